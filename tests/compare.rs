//! `loadplan compare` on real runs against `loadplan mock`: B's requests wait 40 ms where
//! A's wait 1 ms (`?delay=`), so B's latency is clearly worse and its throughput clearly
//! lower; B also sends a request name A does not, and runs in another environment. The
//! marks, exit codes, Markdown, HTML and widths are checked on the binary's output, and
//! A's request count against the mock's own `/stats`.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::OnceLock;

use crate::common::{Output, loadplan_command, mock_requests, output_of};

/// A `loadplan mock` process on a free port, stopped (by its pid) when dropped.
struct Mock {
    child: Child,
    base_url: String,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plan of one scenario: `items` and `pay<script>` (in group `checkout`), each waiting
/// `delay` ms at the mock, plus `only_b` when `extra`; `http_req_duration` must stay under
/// 20 ms at p95. The mock's `/stats` is collected and a metric derived from it.
fn plan(base_url: &str, delay: u32, extra: bool) -> String {
    let extra = if extra {
        format!("      - request: {{ url: \"{base_url}/extra?delay={delay}\", name: only_b }}\n")
    } else {
        String::new()
    };
    format!(
        r#"name: compare
environments:
  direct: {{ base_url: "{base_url}" }}
  proxy: {{ base_url: "{base_url}" }}
stages:
  smoke: {{ vus: 2, duration: 1s }}
scenarios:
  api:
    steps:
      - request: {{ url: "{{{{ env.base_url }}}}/items?delay={delay}", name: items }}
      - group: checkout
        steps:
          - request: {{ url: "{{{{ env.base_url }}}}/pay?delay={delay}", name: "pay<script>" }}
{extra}collect:
  - json:
      name: stats
      url: "{{{{ env.base_url }}}}/stats"
      every: 200ms
      kind: counter
      fields: {{ requests: /http_requests_total }}
derived:
  per_vu: "stats.requests / vus_max"
thresholds:
  http_req_failed: [ "rate < 1%" ]
  http_req_duration: [ "p95 < 20ms" ]
  per_vu: [ "value > 0" ]
"#
    )
}

/// The two runs, made once for every test of this file.
struct Runs {
    dir: PathBuf,
    a: PathBuf,
    b: PathBuf,
    /// Requests the mock answered during A, from its `/stats`.
    a_requests_by_the_mock: u64,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let (child, base_url) = crate::run::mock_process(&[]);
        let mock = Mock { child, base_url };
        // Cargo's scratch folder for integration tests (not removed after: a static
        // is never dropped), emptied first.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the scratch folder");
        let run = |name: &str, delay: u32, extra: bool, env: &str| {
            let file = dir.join(format!("{name}.yaml"));
            std::fs::write(&file, plan(&mock.base_url, delay, extra)).expect("plan written");
            let results = dir.join(format!("{name}.json"));
            let status = loadplan_command()
                .arg("run")
                .arg(&file)
                .args(["--env", env, "--out"])
                .arg(format!("json={}", results.display()))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("loadplan runs");
            // A passes its thresholds; B's latency breaks `p95 < 20ms`.
            let expected = if delay < 20 { 0 } else { 99 };
            assert_eq!(status.code(), Some(expected), "run {name}");
            results
        };
        let before = mock_requests(&mock.base_url);
        let a = run("a", 1, false, "direct");
        let a_requests_by_the_mock = mock_requests(&mock.base_url) - before;
        let b = run("b", 40, true, "proxy");
        Runs {
            dir,
            a,
            b,
            a_requests_by_the_mock,
        }
    })
}

fn compare(args: &[&str], env: &[(&str, &str)]) -> Output {
    output_of(
        loadplan_command()
            .arg("compare")
            .args(args)
            .envs(env.iter().copied()),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// The cells of the Markdown row of `metric`, `series` (empty for the whole metric) and
/// `figure`.
fn markdown_row(markdown: &str, metric: &str, series: &str, figure: &str) -> Vec<String> {
    markdown
        .lines()
        .map(cells)
        .find(|c| c.len() > 3 && c[0] == metric && c[1] == series && c[2] == figure)
        .unwrap_or_else(|| panic!("no row {metric} [{series}] {figure} in:\n{markdown}"))
}

/// A Markdown table line's cells (split at `|` not escaped by `\`), trimmed.
fn cells(line: &str) -> Vec<String> {
    let Some(inner) = line
        .strip_prefix('|')
        .and_then(|rest| rest.strip_suffix('|'))
    else {
        return Vec::new();
    };
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => out.push(String::new()),
            c => {
                escaped = c == '\\';
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out.iter().map(|c| c.trim().to_owned()).collect()
}

/// B is slower: its p95 is marked worse, its request rate worse, its extra request only
/// in B; the environments differ and the header says so; A's `p95 < 20ms` re-judged on B
/// fails. Exit 0 without an exit option.
#[test]
fn a_slower_run_is_marked_worse_per_metric_and_series() {
    let runs = runs();
    let out = compare(&["--format", "markdown", path(&runs.a), path(&runs.b)], &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let md = &out.stdout;
    let p95 = markdown_row(md, "http_req_duration", "", "p95");
    assert_eq!(p95[6], "worse", "{p95:?}");
    assert!(p95[5].starts_with('+'), "{p95:?}");
    let rate = markdown_row(md, "http_reqs", "", "rate");
    assert_eq!(rate[6], "worse", "{rate:?}");
    assert!(rate[5].starts_with('-'), "{rate:?}");
    // Per series, the hostile name escaped in the cell.
    let pay = markdown_row(
        md,
        "http_req_duration",
        "api group=checkout name=pay&lt;script&gt;",
        "p95",
    );
    assert_eq!(pay[6], "worse", "{pay:?}");
    let only_b = markdown_row(md, "http_req_duration", "api name=only_b", "p95");
    assert_eq!(only_b[3], "—", "{only_b:?}");
    assert_eq!(only_b[6], "only in B", "{only_b:?}");
    // Failed shares: none either side.
    let failed = markdown_row(md, "http_req_failed", "", "share");
    assert_eq!(failed[6], "same", "{failed:?}");
    assert!(
        md.contains("different environments: A 'direct', B 'proxy'"),
        "{md}"
    );
    assert!(!md.contains("<script>"), "{md}");
    // Thresholds: A passed its own, B failed its own, A's re-judged on B fails.
    let threshold = md
        .lines()
        .map(cells)
        .find(|c| {
            c.first()
                .is_some_and(|k| k == "http_req_duration: p95 &lt; 20ms")
        })
        .unwrap_or_else(|| panic!("no threshold row in:\n{md}"));
    assert!(threshold[1].starts_with("pass"), "{threshold:?}");
    assert!(threshold[2].starts_with("FAIL"), "{threshold:?}");
    assert!(threshold[3].starts_with("FAIL"), "{threshold:?}");
    // Server-side and derived metrics: compared, with no better side.
    let server = markdown_row(md, "stats.requests", "", "delta");
    assert!(
        server[3].parse::<f64>().is_ok_and(|n| n > 0.0),
        "{server:?}"
    );
    assert!(
        server[4].parse::<f64>().is_ok_and(|n| n > 0.0),
        "{server:?}"
    );
    assert!(
        ["changed", "same"].contains(&server[6].as_str()),
        "{server:?}"
    );
    let derived = markdown_row(md, "per_vu", "", "value");
    assert!(
        ["changed", "same"].contains(&derived[6].as_str()),
        "{derived:?}"
    );
    // A derived threshold re-judged on B.
    let per_vu = md
        .lines()
        .map(cells)
        .find(|c| c.first().is_some_and(|k| k == "per_vu: value &gt; 0"))
        .unwrap_or_else(|| panic!("no per_vu threshold in:\n{md}"));
    assert!(per_vu[3].starts_with("pass"), "{per_vu:?}");
}

/// A's compared request count is the count the mock answered (read from its `/stats`).
#[test]
fn the_request_count_is_the_mocks_own() {
    let runs = runs();
    let out = compare(&["--format", "markdown", path(&runs.a), path(&runs.b)], &[]);
    let count = markdown_row(&out.stdout, "http_reqs", "", "count");
    assert!(runs.a_requests_by_the_mock > 0);
    assert_eq!(
        count[3],
        runs.a_requests_by_the_mock.to_string(),
        "{count:?}"
    );
}

/// Every table of the Markdown is well formed: a header, a separator of as many cells,
/// rows of as many cells.
#[test]
fn the_markdown_tables_are_well_formed() {
    let runs = runs();
    let out = compare(&["--format", "markdown", path(&runs.a), path(&runs.b)], &[]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let mut tables = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') {
            tables += 1;
            let width = cells(lines[i]).len();
            let separator = cells(lines.get(i + 1).copied().unwrap_or(""));
            assert_eq!(separator.len(), width, "{}", lines[i]);
            assert!(
                separator
                    .iter()
                    .all(|c| c.trim_matches(':').chars().all(|c| c == '-') && c.contains("---")),
                "{separator:?}"
            );
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                assert_eq!(cells(lines[i]).len(), width, "{}", lines[i]);
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    assert!(tables >= 3, "runs, metrics, thresholds:\n{}", out.stdout);
}

/// `--fail-on-regression 20%`: B is far slower, so 99 and the figures named; a limit B
/// stays within is 0. `--fail-on-threshold`: A's threshold fails on B, 99.
#[test]
fn exit_codes_for_ci() {
    let runs = runs();
    let (a, b) = (path(&runs.a), path(&runs.b));
    let out = compare(&[a, b, "--fail-on-regression", "20%"], &[]);
    assert_eq!(out.status, 99, "{}", out.stderr);
    assert!(
        out.stdout.contains("regressed beyond 20%"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("B  http_req_duration p95  +"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("regressed beyond the limit"),
        "{}",
        out.stderr
    );
    // Same run on both sides: nothing regressed.
    let out = compare(&[a, a, "--fail-on-regression", "20%"], &[]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("no judged figure regressed beyond 20%"));
    // Latency grew some 40×; throughput cannot fall more than 100%.
    let out = compare(&[a, b, "--fail-on-regression", "1000000%"], &[]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let out = compare(&[a, b, "--fail-on-threshold"], &[]);
    assert_eq!(out.status, 99, "{}", out.stderr);
    assert!(
        out.stdout.contains("B  http_req_duration: p95 < 20ms"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 re-judged threshold failed"),
        "{}",
        out.stderr
    );
    // The other way round, A's `p95 < 20ms` holds on A.
    let out = compare(&[b, a, "--fail-on-threshold"], &[]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
}

/// A percent without `%`, or no number: a usage error (2) saying what to write.
#[test]
fn a_bad_percentage_is_a_usage_error() {
    let runs = runs();
    for (bad, says) in [
        ("20", "write `20%`"),
        ("abc", "expected a percentage above 0"),
        ("-5%", "expected a percentage above 0"),
        ("0%", "expected a percentage above 0"),
    ] {
        let flag = format!("--fail-on-regression={bad}");
        let out = compare(&[path(&runs.a), path(&runs.b), &flag], &[]);
        assert_eq!(out.status, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{bad}");
    }
    let out = compare(&[path(&runs.a)], &[]);
    assert_eq!(out.status, 2, "one file: {}", out.stderr);
}

/// A file that is not a results JSON — not JSON, other JSON, cut short, missing — is
/// exit 2 naming the file; nothing is compared.
#[test]
fn a_file_that_is_not_results_is_named() {
    let runs = runs();
    let text = std::fs::read_to_string(&runs.a).expect("A's results");
    let cases = [
        ("not-json.json", "<html>hello</html>".to_owned()),
        (
            "other.json",
            r#"{"name": "package", "version": "1.0"}"#.to_owned(),
        ),
        ("cut.json", text[..text.len() / 2].to_owned()),
    ];
    for (name, content) in cases {
        let file = runs.dir.join(name);
        std::fs::write(&file, content).expect("written");
        let out = compare(&[path(&runs.a), path(&file)], &[]);
        assert_eq!(out.status, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(path(&file)), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("not a loadplan results file"),
            "{name}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
    }
    let missing = runs.dir.join("missing.json");
    let out = compare(&[path(&missing), path(&runs.b)], &[]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(out.stderr.contains(path(&missing)), "{}", out.stderr);
}

/// `--html FILE` writes a page with the runs' names escaped and a chart per trend.
#[test]
fn the_html_page_is_written_with_names_escaped() {
    let runs = runs();
    let page = runs.dir.join("compare.html");
    let out = compare(&[path(&runs.a), path(&runs.b), "--html", path(&page)], &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let html = std::fs::read_to_string(&page).expect("the page is written");
    assert!(html.contains("name=pay&lt;script&gt;"), "{html}");
    assert!(!html.contains("pay<script>"), "{html}");
    assert!(html.contains("name=only_b"), "{html}");
    assert!(html.contains("<svg"), "a percentile chart: {html}");
    assert!(out.stderr.contains("wrote html:"), "{}", out.stderr);
}

/// At 80 columns (three runs) and at 120, no line is longer than the terminal; at 10
/// columns the output is cut, not wrapped or refused. The terminal table shows the marks.
#[test]
fn the_terminal_table_fits_the_width() {
    let runs = runs();
    let (a, b) = (path(&runs.a), path(&runs.b));
    for (columns, files) in [
        ("80", vec![a, b, b]),
        ("120", vec![a, b]),
        ("80", vec![a, b]),
        ("10", vec![a, b]),
    ] {
        let out = compare(&files, &[("COLUMNS", columns)]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let width: usize = columns.parse().expect("a number");
        for line in out.stdout.lines() {
            assert!(
                line.chars().count() <= width,
                "COLUMNS={columns}: {} characters: {line}\n{}",
                line.chars().count(),
                out.stdout
            );
        }
        if width >= 80 {
            assert!(
                out.stdout.contains("worse") || out.stdout.contains('✗'),
                "{}",
                out.stdout
            );
        }
        if width >= 120 {
            // The terminal prints names as they are (control characters aside).
            assert!(out.stdout.contains("pay<script>"), "{}", out.stdout);
        }
    }
    let out = compare(&[a, b], &[("COLUMNS", "120")]);
    assert!(out.stdout.contains("only in B"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("note: the runs are of different environments")
    );
}
