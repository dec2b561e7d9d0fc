//! A page checked in a real browser: headless Chromium (Debian's `chromium` package)
//! driven over the DevTools protocol (CDP), JSON messages on one WebSocket.
//!
//! [`check_page`] launches one browser, opens the page once per [`Viewport`] (width, pixel
//! ratio, phone or not, dark or light, screen or print), and reports every problem a
//! reader would meet: an uncaught exception, a console error or failed assertion, an
//! error in the browser's log (a failed load, a refused CSP), any request that leaves the
//! file (the page must be self-contained), a page wider than the screen, a phone page laid
//! out at a desktop width. It moves the mouse over every chart (hover handlers run) and
//! saves a full-page screenshot where a viewport asks for one.
//!
//! The protocol is spoken synchronously (tungstenite's blocking client on a `TcpStream`
//! with a read timeout; the crate tokio-tungstenite already brings in): a test is a
//! sequence of commands, so no async runtime is needed. Every wait is bounded by
//! [`PATIENCE`]: a hung browser fails the test. The browser runs in its own process
//! group, killed by its id when the [`Browser`] is dropped (on failure too).

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

use super::PATIENCE;

/// How the page is shown: one load of the page each.
#[derive(Clone, Debug)]
pub struct Viewport {
    /// Names the viewport in problems ("phone", "dark").
    pub name: &'static str,
    /// CSS pixels.
    pub width: u32,
    pub height: u32,
    /// Device pixels per CSS pixel.
    pub scale: f64,
    /// A phone: the page must declare `width=device-width` (else it is laid out 980 px
    /// wide and shrunk).
    pub mobile: bool,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
    /// `print` media instead of `screen`.
    pub print: bool,
    /// Where to save a full-page PNG, if anywhere.
    pub screenshot: Option<PathBuf>,
    /// Cut the screenshot at this many CSS pixels from the top (the README's picture).
    pub clip_height: Option<f64>,
}

impl Viewport {
    /// A laptop screen, 1280 × 800.
    pub fn desktop() -> Self {
        Self {
            name: "desktop",
            width: 1280,
            height: 800,
            scale: 1.0,
            mobile: false,
            dark: false,
            print: false,
            screenshot: None,
            clip_height: None,
        }
    }

    /// A phone, 390 × 844 at two device pixels per CSS pixel.
    pub fn phone() -> Self {
        Self {
            name: "phone",
            width: 390,
            height: 844,
            scale: 2.0,
            mobile: true,
            ..Self::desktop()
        }
    }

    /// The desktop in dark mode.
    pub fn dark() -> Self {
        Self {
            name: "dark",
            dark: true,
            ..Self::desktop()
        }
    }

    /// Print media on an A4-wide page (794 CSS px).
    pub fn print() -> Self {
        Self {
            name: "print",
            width: 794,
            height: 1123,
            print: true,
            ..Self::desktop()
        }
    }

    /// The same, saving a screenshot at `path`.
    pub fn screenshot(self, path: PathBuf) -> Self {
        Self {
            screenshot: Some(path),
            ..self
        }
    }

    /// Screenshots only the top `height` CSS pixels of the page.
    pub fn clip_height(self, height: f64) -> Self {
        Self {
            clip_height: Some(height),
            ..self
        }
    }
}

/// What the browser saw: `problems` fail a check, `warnings` are worth reading.
#[derive(Debug, Default)]
pub struct PageReport {
    /// Each with the viewport it was seen in: `[phone] uncaught exception: …`.
    pub problems: Vec<String>,
    /// Console warnings and warning-level log entries.
    pub warnings: Vec<String>,
    /// The screenshots saved.
    pub screenshots: Vec<PathBuf>,
}

impl PageReport {
    /// Adds `problem` unless it is already there (a hover handler that throws, throws at
    /// every step of the mouse).
    fn problem(&mut self, problem: String) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Fails, listing every problem, unless there is none; prints the warnings.
    pub fn assert_clean(&self, page: &Path) {
        for warning in &self.warnings {
            eprintln!("browser warning on {}: {warning}", page.display());
        }
        assert!(
            self.problems.is_empty(),
            "{} in a browser:\n  {}",
            page.display(),
            self.problems.join("\n  ")
        );
    }

    /// Whether some problem contains `needle`.
    pub fn has_problem(&self, needle: &str) -> bool {
        self.problems.iter().any(|problem| problem.contains(needle))
    }
}

/// Opens the file `page` in headless Chromium once per viewport and reports what it saw.
/// Panics (a failed test, with the reason) when the browser is missing or does not answer
/// within [`PATIENCE`].
pub fn check_page(page: &Path, viewports: &[Viewport]) -> PageReport {
    check_pages(&[(page, viewports)]).remove(0)
}

/// [`check_page`] for several pages in one browser (a launch is most of the cost): one
/// report per page, in order.
pub fn check_pages(pages: &[(&Path, &[Viewport])]) -> Vec<PageReport> {
    check_pages_with(&chromium(), pages)
}

/// [`check_pages`] with the browser `program`.
pub fn check_pages_with(program: &str, pages: &[(&Path, &[Viewport])]) -> Vec<PageReport> {
    let browser = Browser::launch(program);
    let mut cdp = browser.connect();
    let mut reports = Vec::new();
    for (page, viewports) in pages {
        let page = std::path::absolute(page).expect("the page has an absolute path");
        let url = format!("file://{}", page.display());
        let mut report = PageReport::default();
        for viewport in *viewports {
            cdp.check(&url, viewport, &mut report);
        }
        reports.push(report);
    }
    // A browser-level command: sent outside the page's session. The answer may not come
    // before the connection closes; the guard ends the process either way.
    cdp.session = None;
    cdp.send("Browser.close", json!({}));
    reports
}

/// The folder screenshots go to: `target/browser/` (from `CARGO_TARGET_DIR`, else the
/// test binary's `target/…/deps/` path), created.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| super::root().join(dir))
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            // target/debug/deps/integration-HASH
            exe.parent()?.parent()?.parent().map(Path::to_path_buf)
        })
        .unwrap_or_else(|| super::root().join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The browser to run: `LOADPLAN_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> String {
    std::env::var("LOADPLAN_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// A headless Chromium in its own process group, with a profile folder of its own; the
/// group is killed when this is dropped.
struct Browser {
    child: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    fn launch(program: &str) -> Self {
        use std::os::unix::process::CommandExt as _;
        let profile = tempfile::tempdir().expect("a profile folder");
        let log = std::fs::File::create(profile.path().join("chromium.log"))
            .expect("a log file for chromium");
        let spawned = Command::new(program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start `{}` ({e}): the browser check needs Chromium — on Debian or \
                 Ubuntu `apt-get install chromium` (.ci/run installs it), or set \
                 LOADPLAN_CHROMIUM to a Chromium or Chrome binary",
                program
            ),
        };
        Self { child, profile }
    }

    /// What Chromium printed so far (for a failure message).
    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }

    /// Waits for Chromium to write its DevTools port, connects to the browser endpoint,
    /// and attaches to the page it opened.
    fn connect(&self) -> Cdp {
        let file = self.profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + PATIENCE;
        // Chromium writes "PORT\n/devtools/browser/ID\n" once it listens.
        let (port, path) = loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                break (port.to_owned(), path.to_owned());
            }
            assert!(
                !super::gone(self.child.id()),
                "chromium exited before listening:\n{}",
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "chromium wrote no {} within {PATIENCE:?}:\n{}",
                file.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("chromium's DevTools port {port}: {e}"));
        // The handshake waits at most PATIENCE; messages are then read in short slices so
        // every wait can check its own deadline.
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout can be set");
        // A full-page screenshot of a long page is a message of several MiB.
        let config = WebSocketConfig::default()
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let url = format!("ws://127.0.0.1:{port}{path}");
        let socket =
            match tungstenite::client::client_with_config(url.as_str(), stream, Some(config)) {
                Ok((socket, _)) => socket,
                Err(e) => panic!("the DevTools handshake at {url}: {e}"),
            };
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout can be set");
        let mut cdp = Cdp {
            socket,
            next_id: 0,
            session: None,
            events: Vec::new(),
            seen: 0,
        };
        // The page Chromium opened at launch (a visible one: timers and frames run at
        // full speed), else a new one.
        let targets = cdp.call("Target.getTargets", json!({}));
        let opened = targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|target| target["type"] == "page")
            .and_then(|target| target["targetId"].as_str())
            .map(str::to_owned);
        let target_id = match opened {
            Some(id) => id,
            None => cdp.call("Target.createTarget", json!({ "url": "about:blank" }))["targetId"]
                .as_str()
                .expect("Target.createTarget names its target")
                .to_owned(),
        };
        let attached = cdp.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("Target.attachToTarget names its session")
            .to_owned();
        cdp.session = Some(session);
        for domain in ["Runtime", "Log", "Network", "Page"] {
            cdp.call(&format!("{domain}.enable"), json!({}));
        }
        cdp
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group holds the renderer, GPU and zygote processes too; it is ours, named
        // by the browser's own pid (it was started as the group's leader).
        if let Some(pid) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools connection: commands go to the attached page's session once there is one.
struct Cdp {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    session: Option<String>,
    /// The page's events since the current viewport's load began.
    events: Vec<Value>,
    /// How many of `events` [`Cdp::wait_event`] has looked at.
    seen: usize,
}

impl Cdp {
    /// Sends a command; its id.
    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut message = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .unwrap_or_else(|e| panic!("sending {method} to chromium: {e}"));
        self.next_id
    }

    /// The next message from the browser; fails after `deadline`. An `alert()` (which
    /// would stall the page) is dismissed and kept as an event.
    fn read(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        loop {
            assert!(
                Instant::now() < deadline,
                "chromium did not answer {waiting_for} within {PATIENCE:?}"
            );
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("chromium sent no JSON ({e}): {text}"));
                    if message["method"] == "Page.javascriptDialogOpening" {
                        self.send("Page.handleJavaScriptDialog", json!({ "accept": true }));
                    }
                    return message;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("reading from chromium while waiting for {waiting_for}: {e}"),
            }
        }
    }

    /// Sends a command and waits for its result, keeping the events that come first.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut message = self.read(deadline, method);
            if message["id"] == id {
                assert!(
                    message["error"].is_null(),
                    "chromium refused {method}: {}",
                    message["error"]
                );
                return message["result"].take();
            }
            if message["method"].is_string() {
                self.events.push(message);
            }
        }
    }

    /// Waits for the event `method` (one not waited for before).
    fn wait_event(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while self.seen < self.events.len() {
                self.seen += 1;
                if self.events[self.seen - 1]["method"] == method {
                    return self.events[self.seen - 1]["params"].clone();
                }
            }
            let message = self.read(deadline, method);
            if message["method"].is_string() {
                self.events.push(message);
            }
        }
    }

    /// The value of the JavaScript `expression` (awaited when it is a promise); an
    /// exception in it is the page's problem, recorded as an event, and gives `Null`.
    fn evaluate(&mut self, expression: &str) -> Value {
        let mut result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if !result["exceptionDetails"].is_null() {
            let details = result["exceptionDetails"].take();
            self.events.push(json!({
                "method": "Runtime.exceptionThrown",
                "params": { "exceptionDetails": details },
            }));
            return Value::Null;
        }
        result["result"]["value"].take()
    }

    /// Lets the page run what it scheduled: two frames and a turn of its timers.
    fn settle(&mut self) {
        self.evaluate(
            "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0))))",
        );
    }

    /// Loads `url` as `viewport` shows it and adds what went wrong to `report`.
    fn check(&mut self, url: &str, viewport: &Viewport, report: &mut PageReport) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": viewport.scale,
                "mobile": viewport.mobile,
            }),
        );
        let scheme = if viewport.dark { "dark" } else { "light" };
        let media = if viewport.print { "print" } else { "screen" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({
                "media": media,
                "features": [ { "name": "prefers-color-scheme", "value": scheme } ],
            }),
        );
        self.events.clear();
        self.seen = 0;
        let name = viewport.name;
        let navigated = self.call("Page.navigate", json!({ "url": url }));
        if let Some(error) = navigated["errorText"].as_str() {
            report
                .problems
                .push(format!("[{name}] {url} did not load: {error}"));
            return;
        }
        self.wait_event("Page.loadEventFired");
        self.settle();
        if !viewport.print {
            self.hover_charts();
            self.settle();
        }
        self.check_width(viewport, report);
        if viewport.dark {
            self.check_dark(name, report);
        }
        if let Some(path) = &viewport.screenshot {
            self.screenshot(path, viewport.clip_height);
            report.screenshots.push(path.clone());
        }
        self.collect(name, report);
    }

    /// Moves the mouse across the middle of each chart (`svg`), then away: hover
    /// handlers run, and their errors are seen.
    fn hover_charts(&mut self) {
        let count = self
            .evaluate("document.querySelectorAll('svg').length")
            .as_u64()
            .unwrap_or(0)
            .min(24);
        for index in 0..count {
            let rect = self.evaluate(&format!(
                "(() => {{ const chart = document.querySelectorAll('svg')[{index}]; \
                 chart.scrollIntoView({{ block: 'center' }}); \
                 const r = chart.getBoundingClientRect(); \
                 return [r.left, r.top, r.width, r.height]; }})()"
            ));
            let [left, top, width, height] = [0, 1, 2, 3].map(|i| rect[i].as_f64().unwrap_or(0.0));
            if width < 1.0 || height < 1.0 {
                continue;
            }
            for step in 1..12 {
                let x = left + width * f64::from(step) / 12.0;
                self.call(
                    "Input.dispatchMouseEvent",
                    json!({ "type": "mouseMoved", "x": x, "y": top + height / 2.0 }),
                );
            }
        }
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": 0, "y": 0 }),
        );
        self.evaluate("window.scrollTo(0, 0)");
    }

    /// A page wider than its window scrolls sideways; a phone page without
    /// `width=device-width` is laid out 980 px wide and shrunk to illegibility.
    fn check_width(&mut self, viewport: &Viewport, report: &mut PageReport) {
        let name = viewport.name;
        let layout = self.evaluate(
            "({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth, \
             wide: [...document.querySelectorAll('body *')] \
               .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5) \
               .slice(0, 5) \
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') \
                 + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '') \
                 + ' (' + Math.round(e.getBoundingClientRect().width) + ' px)') })",
        );
        let scroll = layout["scroll"].as_u64().unwrap_or(0);
        let inner = layout["inner"].as_u64().unwrap_or(0);
        if viewport.mobile && inner != u64::from(viewport.width) {
            report.problem(format!(
                "[{name}] laid out {inner} px wide on a {} px phone: the page needs \
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                viewport.width
            ));
        }
        if scroll > inner {
            let wide: Vec<&str> = layout["wide"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            report.problem(format!(
                "[{name}] horizontal overflow: the page is {scroll} px wide in a {inner} px \
                 window; wider than the window: {}",
                wide.join(", ")
            ));
        }
    }

    /// Dark mode follows the system: with `prefers-color-scheme: dark` the page's
    /// background (the first opaque one of `body` and `html`, else the canvas, dark under
    /// a `color-scheme` property or `<meta name="color-scheme">` naming dark) is dark.
    fn check_dark(&mut self, name: &str, report: &mut PageReport) {
        let seen = self.evaluate(
            "(() => { \
               for (const e of [document.body, document.documentElement]) { \
                 if (!e) continue; \
                 const c = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g).map(Number); \
                 if (c.length < 4 || c[3] > 0) return { color: getComputedStyle(e).backgroundColor, \
                   light: (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255 }; \
               } \
               const meta = document.querySelector('meta[name=color-scheme]'); \
               const dark = getComputedStyle(document.documentElement).colorScheme.includes('dark') \
                 || (meta !== null && meta.content.includes('dark')); \
               return { color: dark ? 'the dark canvas' : 'the white canvas', light: dark ? 0 : 1 }; \
             })()",
        );
        let light = seen["light"].as_f64().unwrap_or(1.0);
        if light > 0.5 {
            report.problem(format!(
                "[{name}] the page stays light in dark mode: its background is {}",
                seen["color"].as_str().unwrap_or("light")
            ));
        }
    }

    /// Saves the whole page (not only the window) as a PNG at `path`.
    fn screenshot(&mut self, path: &Path, clip_height: Option<f64>) {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let width = metrics["cssContentSize"]["width"].as_f64().unwrap_or(0.0);
        let height = metrics["cssContentSize"]["height"].as_f64().unwrap_or(0.0);
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {
                    "x": 0, "y": 0,
                    "width": width.max(1.0),
                    // a runaway page is cut, not a PNG of a mile
                    "height": height.clamp(1.0, clip_height.unwrap_or(16_000.0).max(1.0)),
                    "scale": 1,
                },
            }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("chromium sends a screenshot as base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Turns the events of one load into problems and warnings.
    fn collect(&mut self, name: &str, report: &mut PageReport) {
        let mut urls = std::collections::HashMap::new();
        for event in &self.events {
            let params = &event["params"];
            match event["method"].as_str().unwrap_or_default() {
                "Runtime.exceptionThrown" => {
                    let details = &params["exceptionDetails"];
                    // The description's first line is the error; the rest its stack.
                    let text = details["exception"]["description"]
                        .as_str()
                        .or_else(|| details["text"].as_str())
                        .and_then(|text| text.lines().next())
                        .unwrap_or("an exception");
                    report.problem(format!(
                        "[{name}] uncaught exception: {text} (line {})",
                        details["lineNumber"].as_i64().map_or(0, |line| line + 1)
                    ));
                }
                "Runtime.consoleAPICalled" => {
                    let text = params["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|arg| match &arg["value"] {
                            Value::String(text) => text.clone(),
                            Value::Null => arg["description"].as_str().unwrap_or("").to_owned(),
                            value => value.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    match params["type"].as_str().unwrap_or_default() {
                        kind @ ("error" | "assert") => {
                            report.problem(format!("[{name}] console.{kind}: {text}"))
                        }
                        "warning" => report
                            .warnings
                            .push(format!("[{name}] console.warn: {text}")),
                        _ => {}
                    }
                }
                "Log.entryAdded" => {
                    let entry = &params["entry"];
                    let text = format!(
                        "[{name}] browser log ({}): {} {}",
                        entry["source"].as_str().unwrap_or_default(),
                        entry["text"].as_str().unwrap_or_default(),
                        entry["url"].as_str().unwrap_or_default()
                    );
                    match entry["level"].as_str().unwrap_or_default() {
                        "error" => report.problem(text),
                        "warning" => report.warnings.push(text),
                        _ => {}
                    }
                }
                "Network.requestWillBeSent" => {
                    let url = params["request"]["url"].as_str().unwrap_or_default();
                    urls.insert(params["requestId"].to_string(), url.to_owned());
                    let scheme = url.split(':').next().unwrap_or_default();
                    if !matches!(scheme, "file" | "data" | "about" | "blob") {
                        report.problem(format!(
                            "[{name}] request to {url}: the page must be self-contained"
                        ));
                    }
                }
                "Network.loadingFailed" => {
                    let url = urls
                        .get(&params["requestId"].to_string())
                        .map_or("a resource", String::as_str);
                    report.problem(format!(
                        "[{name}] failed to load {url}: {}",
                        params["errorText"].as_str().unwrap_or_default()
                    ));
                }
                "Page.javascriptDialogOpening" => report.problem(format!(
                    "[{name}] a {} dialog: {}",
                    params["type"].as_str().unwrap_or("javascript"),
                    params["message"].as_str().unwrap_or_default()
                )),
                _ => {}
            }
        }
    }
}
