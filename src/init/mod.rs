//! `loadplan init`: a commented starter plan that validates and runs as written against
//! the built-in mock, and optionally the CI workflow of docs/ci.md for it.
//!
//! [`files`] is pure (the texts and where they go); [`write`] creates them, every path
//! checked before the first is written and each created with `create_new`, so an existing
//! file is never replaced, not even by a race.

use std::fmt;
use std::path::{Path, PathBuf};

/// The plan's starter text; `@…@` marks what [`files`] fills in.
const PLAN: &str = include_str!("plan.yaml");
/// The scenario against the built-in mock (no `--http`, no `--ws`).
const MOCK_SCENARIO: &str = include_str!("mock.yaml");
/// The scenario of `--http URL`.
const HTTP_SCENARIO: &str = include_str!("http.yaml");
/// The scenario of `--ws URL`.
const WS_SCENARIO: &str = include_str!("ws.yaml");
/// docs/ci.md's GitHub Actions recipe (a test keeps them the same).
pub const GITHUB: &str = include_str!("github.yml");
/// docs/ci.md's GitLab CI recipe (a test keeps them the same).
pub const GITLAB: &str = include_str!("gitlab.yml");
/// The baselines document the CI's nightly job adds a row to.
const BASELINES: &str = include_str!("baselines.md");

/// Where the workflows keep the baselines document, relative to the current folder.
pub const BASELINES_FILE: &str = "docs/performance-baselines.md";
/// The environment `--http`/`--ws` name the target.
pub const TARGET_ENV: &str = "target";
/// The schema file written beside a plan that has none above it.
pub const SCHEMA_FILE: &str = "loadplan.schema.json";

/// What the plan runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The built-in mock only.
    Mock,
    /// `--http URL`: requests to it.
    Http(TargetUrl),
    /// `--ws URL`: a WebSocket to it.
    Ws(TargetUrl),
}

/// A target URL split into what the environment holds and what a step adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// `https://staging.example.com` (`--http`), or the whole URL (`--ws`).
    pub base: String,
    /// `/api/health?x=1`, or empty.
    pub path: String,
}

/// Which CI's workflow to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    Github,
    Gitlab,
}

impl Ci {
    /// The workflow file, relative to the current folder.
    pub fn file(self) -> &'static str {
        match self {
            Self::Github => ".github/workflows/loadplan.yml",
            Self::Gitlab => ".gitlab-ci.yml",
        }
    }
}

/// Why `loadplan init` wrote nothing.
#[derive(Debug)]
pub enum InitError {
    /// The URL of `flag` is not `http(s)://host…` (`--http`) or `ws(s)://host…` (`--ws`).
    Scheme { flag: &'static str, url: String },
    /// The URL of `flag` carries a user or password (shown with it replaced by `***`).
    Credentials { flag: &'static str, shown: String },
    /// A file to be written exists already.
    Exists(PathBuf),
    /// The folder a file goes in does not exist.
    NoFolder { file: PathBuf, folder: PathBuf },
    /// A file could not be created or written.
    Write {
        file: PathBuf,
        error: std::io::Error,
    },
}

impl InitError {
    /// Whether the user can fix it before trying again (exit 2), rather than a failure
    /// to write (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, Self::Write { .. })
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme { flag, url } => {
                let want = if *flag == "--ws" {
                    "ws:// or wss://"
                } else {
                    "http:// or https://"
                };
                write!(
                    f,
                    "`{flag}` expects a URL starting with {want} and naming a host, found `{url}`"
                )
            }
            Self::Credentials { flag, shown } => write!(
                f,
                "`{flag} {shown}`: the URL carries credentials, which `loadplan init` does not \
                 write into a plan; give the URL without them and send the credential from a \
                 secret (`secrets: [API_TOKEN]` and a header \
                 `Authorization: \"Bearer {{{{ secrets.API_TOKEN }}}}\"`, docs/plan-reference.md)"
            ),
            Self::Exists(file) => write!(
                f,
                "`{}` exists; `loadplan init` never replaces a file (pick another with -o, or \
                 move it away); nothing was written",
                file.display()
            ),
            Self::NoFolder { file, folder } => write!(
                f,
                "cannot write `{}`: the folder `{}` does not exist (create it first); nothing \
                 was written",
                file.display(),
                folder.display()
            ),
            Self::Write { file, error } => {
                write!(f, "cannot write `{}`: {error}", file.display())
            }
        }
    }
}

impl std::error::Error for InitError {}

/// Reads the URL of `--http` or `--ws`: its scheme must fit the flag, it must name a
/// host, and it must not carry credentials (refused, never echoed: the message shows
/// `***` in their place).
pub fn parse_url(flag: &'static str, text: &str) -> Result<TargetUrl, InitError> {
    let schemes: &[&str] = if flag == "--ws" {
        &["ws", "wss"]
    } else {
        &["http", "https"]
    };
    let scheme_error = || InitError::Scheme {
        flag,
        url: redact_userinfo(text),
    };
    let (scheme, rest) = text.split_once("://").ok_or_else(scheme_error)?;
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(scheme_error());
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(InitError::Credentials {
            flag,
            shown: redact_userinfo(text),
        });
    }
    let valid = !authority.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && !text.contains(['"', '\\', '{', '}'])
        && text.parse::<hyper::Uri>().is_ok();
    if !valid {
        return Err(scheme_error());
    }
    Ok(if flag == "--ws" {
        TargetUrl {
            base: text.to_owned(),
            path: String::new(),
        }
    } else {
        let path = match path {
            "" | "/" => "/",
            path => path,
        };
        TargetUrl {
            base: format!("{scheme}://{authority}"),
            path: path.to_owned(),
        }
    })
}

/// `text` with whatever stands between `://` and the last `@` of the authority replaced
/// by `***`.
fn redact_userinfo(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

/// What `loadplan init` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The plan file, as given (relative to the current folder, or absolute).
    pub plan: PathBuf,
    pub target: Target,
    pub ci: Option<Ci>,
    /// The schema modeline's path, relative to the plan ([`schema_path`]).
    pub schema: String,
    /// The current folder's name, for a plan called `loadplan.yaml`.
    pub folder_name: Option<String>,
}

/// A file to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    pub text: String,
    /// Kept as it is when it exists (the schema beside the plan, the baselines document),
    /// rather than a reason to write nothing.
    pub reuse: bool,
}

/// The plan's name: the file's stem, or the folder's name for `loadplan.yaml`, with
/// anything but letters, digits, `-` and `_` made `-`.
pub fn plan_name(plan: &Path, folder_name: Option<&str>) -> String {
    let stem = plan.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let raw = if stem == "loadplan" || stem.is_empty() {
        folder_name.unwrap_or("load-test")
    } else {
        stem
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "load-test".to_owned()
    } else {
        name.chars().take(60).collect()
    }
}

/// The path of the plan as the CI runs it: relative to the current folder, with `/`.
fn shown(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Every file `loadplan init` writes for `request`, the plan first.
pub fn files(request: &Request) -> Vec<File> {
    let name = plan_name(&request.plan, request.folder_name.as_deref());
    let plan_shown = shown(&request.plan);
    let (environments, scenario, thresholds, target_run) = match &request.target {
        Target::Mock => (
            String::new(),
            MOCK_SCENARIO.to_owned(),
            "  http_req_failed: [ \"rate < 1%\" ]                    # under 1% of requests failed\n  \
             \"http_req_duration{name:items}\": [ \"p95 < 500ms\" ]  # 95% answered within 500 ms\n  \
             errors: [ \"count == 0\" ]                             # no failed step at all\n"
                .to_owned(),
            String::new(),
        ),
        Target::Http(url) => (
            format!(
                "  {TARGET_ENV}:\n    base_url: \"{}\"    # `loadplan run … --env {TARGET_ENV}`\n",
                url.base
            ),
            HTTP_SCENARIO.replace("@PATH@", &url.path),
            "  http_req_failed: [ \"rate < 1%\" ]                   # under 1% of requests failed\n  \
             \"http_req_duration{name:home}\": [ \"p95 < 500ms\" ]  # 95% answered within 500 ms\n"
                .to_owned(),
            format!("#   loadplan run {plan_shown} --env {TARGET_ENV} --stage smoke\n"),
        ),
        Target::Ws(url) => (
            format!(
                "  {TARGET_ENV}:\n    ws_url: \"{}\"    # `loadplan run … --env {TARGET_ENV}`\n",
                url.base
            ),
            WS_SCENARIO.to_owned(),
            "  ws_connect_errors: [ \"count == 0\" ]       # every WebSocket opened\n  \
             ws_message_latency: [ \"p95 < 200ms\" ]    # 95% of answers within 200 ms\n"
                .to_owned(),
            format!("#   loadplan run {plan_shown} --env {TARGET_ENV} --stage smoke\n"),
        ),
    };
    let modeline = format!("# yaml-language-server: $schema={}", request.schema);
    let plan = PLAN
        .replace("@MODELINE@", &modeline)
        .replace("@TARGET_RUN@\n", &target_run)
        .replace("@NAME@", &name)
        .replace("@PLAN@", &plan_shown)
        .replace("@ENVIRONMENTS@\n", &environments)
        .replace("@SCENARIO@\n", &scenario)
        .replace("@THRESHOLDS@\n", &thresholds);
    let mut out = vec![File {
        path: request.plan.clone(),
        text: plan,
        reuse: false,
    }];
    if request.schema == SCHEMA_FILE {
        let folder = request.plan.parent().unwrap_or(Path::new(""));
        out.push(File {
            path: folder.join(SCHEMA_FILE),
            text: crate::plan::schema::schema_text().to_owned(),
            reuse: true,
        });
    }
    if let Some(ci) = request.ci {
        let (smoke, nightly) = match request.target {
            Target::Mock => ("[local]".to_owned(), "[local]".to_owned()),
            _ => (format!("[local, {TARGET_ENV}]"), format!("[{TARGET_ENV}]")),
        };
        out.push(File {
            path: PathBuf::from(ci.file()),
            text: workflow(ci, &plan_shown, &smoke, &nightly),
            reuse: false,
        });
        out.push(File {
            path: PathBuf::from(BASELINES_FILE),
            text: BASELINES.replace("@NAME@", &name),
            reuse: true,
        });
    }
    out
}

/// The CI recipe of docs/ci.md for `plan`, smoke runs in the `smoke` environments and
/// nightly ones in `nightly` (YAML flow lists).
pub fn workflow(ci: Ci, plan: &str, smoke: &str, nightly: &str) -> String {
    let template = match ci {
        Ci::Github => GITHUB,
        Ci::Gitlab => GITLAB,
    };
    template
        .replace("@PLAN@", plan)
        .replace("@SMOKE_ENVS@", smoke)
        .replace("@NIGHTLY_ENVS@", nightly)
}

/// The modeline's schema path for a plan in `plan_folder` (absolute): the relative path to
/// the nearest `schema/loadplan.schema.json` in it or a folder above (loadplan's own
/// repository, or a project that keeps the schema there), else [`SCHEMA_FILE`], written
/// beside the plan.
pub fn schema_path(plan_folder: &Path) -> String {
    let mut ups = String::new();
    for folder in plan_folder.ancestors() {
        if folder.join("schema/loadplan.schema.json").is_file() {
            return format!("{ups}schema/loadplan.schema.json");
        }
        ups.push_str("../");
    }
    SCHEMA_FILE.to_owned()
}

/// What [`write`] did with each file.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Created(PathBuf),
    /// A reusable file that exists and was left as it is.
    Kept(PathBuf),
}

/// Creates `files`: nothing when one that may not be reused exists or its folder is
/// missing (a workflow's own folders, `.github/workflows`, are created). A file made
/// before a later one failed is removed again.
pub fn write(files: &[File]) -> Result<Vec<Written>, InitError> {
    use std::io::Write;
    for file in files {
        if file.path.exists() && !file.reuse {
            return Err(InitError::Exists(file.path.clone()));
        }
    }
    let plan_folder = files
        .first()
        .and_then(|f| f.path.parent())
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(folder) = plan_folder
        && !folder.is_dir()
    {
        return Err(InitError::NoFolder {
            file: files[0].path.clone(),
            folder: folder.to_owned(),
        });
    }
    let mut done = Vec::new();
    let result = files.iter().try_for_each(|file| {
        if file.reuse && file.path.exists() {
            done.push(Written::Kept(file.path.clone()));
            return Ok(());
        }
        let fail = |error| InitError::Write {
            file: file.path.clone(),
            error,
        };
        if let Some(folder) = file.path.parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(fail)?;
        }
        let mut created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file.path)
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::AlreadyExists if !file.reuse => {
                    InitError::Exists(file.path.clone())
                }
                _ => fail(error),
            })?;
        done.push(Written::Created(file.path.clone()));
        created.write_all(file.text.as_bytes()).map_err(fail)
    });
    match result {
        Ok(()) => Ok(done),
        Err(error) => {
            for written in &done {
                if let Written::Created(path) = written {
                    let _ = std::fs::remove_file(path);
                }
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_fit_their_flag() {
        let url = parse_url("--http", "https://staging.example.com").unwrap();
        assert_eq!(url.base, "https://staging.example.com");
        assert_eq!(url.path, "/");
        let url = parse_url("--http", "http://127.0.0.1:8080/api/health?x=1").unwrap();
        assert_eq!(url.base, "http://127.0.0.1:8080");
        assert_eq!(url.path, "/api/health?x=1");
        let url = parse_url("--ws", "wss://example.com/socket").unwrap();
        assert_eq!(url.base, "wss://example.com/socket");
        for (flag, bad) in [
            ("--http", "ftp://example.com"),
            ("--http", "ws://example.com"),
            ("--ws", "https://example.com"),
            ("--http", "example.com"),
            ("--http", "http://"),
            ("--http", "http://exa mple.com"),
            ("--http", "http://example.com/\"{{ x }}"),
        ] {
            let error = parse_url(flag, bad).unwrap_err();
            assert!(matches!(error, InitError::Scheme { .. }), "{bad}: {error}");
        }
    }

    #[test]
    fn credentials_are_refused_and_never_echoed() {
        for url in [
            "https://user:hunter2@example.com/x",
            "https://hunter2@example.com",
        ] {
            let error = parse_url("--http", url).unwrap_err();
            let text = error.to_string();
            assert!(matches!(error, InitError::Credentials { .. }), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("https://***@example.com"), "{text}");
        }
    }

    #[test]
    fn names_come_from_the_file_or_the_folder() {
        assert_eq!(
            plan_name(Path::new("loadplan.yaml"), Some("shop api")),
            "shop-api"
        );
        assert_eq!(plan_name(Path::new("plans/api.yaml"), Some("x")), "api");
        assert_eq!(plan_name(Path::new("loadplan.yaml"), None), "load-test");
        assert_eq!(
            plan_name(Path::new("loadplan.yaml"), Some("…")),
            "load-test"
        );
    }

    /// Every variant's plan parses as YAML and starts with the modeline.
    #[test]
    fn plans_start_with_the_modeline() {
        for target in [
            Target::Mock,
            Target::Http(parse_url("--http", "https://a.example").unwrap()),
            Target::Ws(parse_url("--ws", "wss://a.example/ws").unwrap()),
        ] {
            let request = Request {
                plan: PathBuf::from("loadplan.yaml"),
                target,
                ci: Some(Ci::Github),
                schema: SCHEMA_FILE.to_owned(),
                folder_name: Some("shop".to_owned()),
            };
            let files = files(&request);
            let plan = &files[0].text;
            assert!(
                plan.starts_with("# yaml-language-server: $schema=loadplan.schema.json\n"),
                "{plan}"
            );
            assert!(!plan.contains('@'), "a placeholder is left: {plan}");
            crate::plan::yaml::Document::load(plan).unwrap();
            let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
            assert_eq!(
                paths,
                [
                    PathBuf::from("loadplan.yaml"),
                    PathBuf::from("loadplan.schema.json"),
                    PathBuf::from(".github/workflows/loadplan.yml"),
                    PathBuf::from(BASELINES_FILE),
                ]
            );
        }
    }
}
