//! The HTML report in a real browser: headless Chromium (tests/common/browser.rs) opens
//! the page of a real run, at desktop and phone width, in dark mode and in print, and the
//! test fails on any exception, console error, failed load, request off the file, or page
//! wider than its screen. Screenshots land in `target/browser/`. A deliberately broken
//! page proves each check can fail.
//!
//! Needs Chromium (`apt-get install chromium`; `.ci/run` installs it): without it these
//! tests fail saying so, they never pass silently.

use std::path::Path;

use crate::common::browser::{
    PageReport, Viewport, check_page, check_pages, check_pages_with, screenshot_dir,
};
use crate::common::loadplan_command;

/// A run of three seconds against the mock with errors of two kinds (503s and timeouts),
/// WebSocket traffic, thresholds that pass and one that fails, and markup in a request
/// name and the description (which must show as text, not run).
const PLAN: &str = r#"name: browser-check
description: "errors, WebSockets and <script>console.error('unescaped')</script> markup"
environments: { local: { mock: true } }
stages: { smoke: { vus: 4, duration: 3s } }
scenarios:
  api:
    weight: 2
    backoff: { initial: 50ms, max: 200ms }
    steps:
      - request: { url: "{{ env.base_url }}/items?delay=5", name: "items <img src=x onerror=console.error(1)>" }
      - sleep: 50ms
      - request: { url: "{{ env.base_url }}/flaky?status=503", name: flaky }
  slow:
    weight: 1
    backoff: { initial: 50ms, max: 200ms }
    steps:
      - request: { url: "{{ env.base_url }}/slow?delay=1000", name: slow, timeout: 50ms }
  chat:
    weight: 1
    steps:
      - connect: { url: "{{ env.ws_url }}" }
      - repeat: { count: 5, every: 100ms }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 1s }
      - disconnect: {}
thresholds:
  "http_req_duration{name:flaky}": [ "p95 < 1s" ]
  http_req_failed: [ "rate < 1%" ]
  ws_message_latency: [ "p99 < 500ms" ]
"#;

/// Runs `loadplan ARGS` in `dir`; fails unless it exits with one of `codes`.
fn loadplan_in(dir: &Path, args: &[&str], codes: &[i32]) {
    let output = loadplan_command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("loadplan runs");
    let code = output.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "loadplan {args:?} exited {code}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The report of a real run (`--out html=`), the one `loadplan report --html` makes
/// from its results and `loadplan compare --html` of it and a second run read cleanly: no
/// error at desktop or phone width, dark or print, no horizontal scrolling, no request off
/// the file. One browser for the three pages.
#[test]
fn the_report_of_a_real_run_reads_cleanly_in_a_browser() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("the plan is written");
    // 99: http_req_failed fails, as it should (the page shows a failed verdict).
    loadplan_in(
        dir.path(),
        &[
            "run",
            "plan.yaml",
            "--quiet",
            "--out",
            "html=run.html",
            "--out",
            "json=run.json",
        ],
        &[99],
    );
    loadplan_in(
        dir.path(),
        &["report", "run.json", "--html", "report.html"],
        &[0],
    );
    // A second, shorter run, for `loadplan compare --html` (overlaid curves, two runs'
    // tables).
    loadplan_in(
        dir.path(),
        &[
            "run",
            "plan.yaml",
            "--quiet",
            "--duration",
            "2s",
            "--out",
            "json=second.json",
        ],
        &[99],
    );
    loadplan_in(
        dir.path(),
        &[
            "compare",
            "run.json",
            "second.json",
            "--html",
            "compare.html",
        ],
        &[0],
    );
    let shots = screenshot_dir();
    let run_page = dir.path().join("run.html");
    let report_page = dir.path().join("report.html");
    let compare_page = dir.path().join("compare.html");
    let reports = check_pages(&[
        (
            run_page.as_path(),
            &[
                Viewport::desktop().screenshot(shots.join("report-desktop.png")),
                Viewport::phone().screenshot(shots.join("report-phone.png")),
                Viewport::dark().screenshot(shots.join("report-dark.png")),
                Viewport::print().screenshot(shots.join("report-print.png")),
            ][..],
        ),
        (
            report_page.as_path(),
            &[
                Viewport::desktop(),
                Viewport::phone(),
                Viewport::dark(),
                Viewport::print(),
            ][..],
        ),
        (
            compare_page.as_path(),
            &[
                Viewport::desktop().screenshot(shots.join("compare-desktop.png")),
                Viewport::phone().screenshot(shots.join("compare-phone.png")),
                Viewport::dark(),
            ][..],
        ),
    ]);
    reports[0].assert_clean(&run_page);
    reports[1].assert_clean(&report_page);
    reports[2].assert_clean(&compare_page);
    for shot in &reports[0].screenshots {
        let png = std::fs::read(shot).expect("the screenshot is saved");
        assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
    }
}

/// A page with every fault the check looks for (a script that throws, a console error, an
/// image from the network, an element 2000 px wide, a hover handler that throws, a phone
/// page without `width=device-width`, no dark mode, a script a content security policy refuses) has
/// each reported; a tidy page has none. Without this, a check that saw nothing would look
/// like a clean page.
#[test]
fn a_broken_page_fails_the_check_on_each_fault() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        r#"<!doctype html><html><head><meta charset="utf-8"><title>broken</title></head><body>
<img src="http://127.0.0.1:9/x.png" alt="from the network">
<div style="width: 2000px">far too wide</div>
<svg width="300" height="100" onmousemove="throw new Error('hover broke')"><rect width="300" height="100"/></svg>
<script>console.error("said so"); console.warn("careful"); throw new Error("boom");</script>
</body></html>"#,
    )
    .expect("the broken page is written");
    let tidy = dir.path().join("tidy.html");
    std::fs::write(
        &tidy,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>tidy</title>
<style>@media (prefers-color-scheme: dark) { body { background: #111; color: #eee } }</style></head>
<body><h1>tidy</h1><svg viewBox="0 0 300 100" style="max-width: 100%"
 onmousemove="this.dataset.hovered = 'yes'"><rect width="300" height="100"/></svg>
<script>console.log("fine");</script></body></html>"#,
    )
    .expect("the tidy page is written");
    // Dark by the browser's own dark canvas and colours.
    let scheme = dir.path().join("scheme.html");
    std::fs::write(
        &scheme,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="color-scheme" content="light dark">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>scheme</title></head>
<body><p>dark by the canvas</p></body></html>"#,
    )
    .expect("the scheme page is written");
    // A content security policy that forbids the page's own script: the page would show
    // without its charts' interaction, silently but for this.
    let refused = dir.path().join("refused.html");
    std::fs::write(
        &refused,
        r#"<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>refused</title></head>
<body><script>document.body.dataset.ran = "yes";</script></body></html>"#,
    )
    .expect("the refused page is written");
    let reports = check_pages(&[
        (
            broken.as_path(),
            &[Viewport::desktop(), Viewport::phone(), Viewport::dark()][..],
        ),
        (
            tidy.as_path(),
            &[
                Viewport::desktop(),
                Viewport::phone(),
                Viewport::dark(),
                Viewport::print(),
            ][..],
        ),
        (refused.as_path(), &[Viewport::desktop()][..]),
        (scheme.as_path(), &[Viewport::dark()][..]),
    ]);
    let report: &PageReport = &reports[0];
    for expected in [
        "[desktop] uncaught exception: Error: boom",
        "[desktop] console.error: said so",
        "[desktop] request to http://127.0.0.1:9/x.png: the page must be self-contained",
        "[desktop] failed to load http://127.0.0.1:9/x.png",
        "[desktop] horizontal overflow: the page is",
        "div (2000 px)",
        "[desktop] uncaught exception: Error: hover broke",
        "px wide on a 390 px phone: the page needs <meta name=\"viewport\"",
        "[phone] uncaught exception: Error: boom",
        "[dark] the page stays light in dark mode: its background is the white canvas",
    ] {
        assert!(
            report.has_problem(expected),
            "`{expected}` not among:\n{}",
            report.problems.join("\n")
        );
    }
    assert!(
        report
            .warnings
            .iter()
            .any(|warning| warning.contains("console.warn: careful")),
        "{:?}",
        report.warnings
    );
    reports[1].assert_clean(&tidy);
    assert!(
        reports[2].has_problem("Content Security Policy"),
        "{:?}",
        reports[2].problems
    );
    reports[3].assert_clean(&scheme);
}

/// Without Chromium the check fails saying how to install it; it does not pass.
#[test]
fn a_missing_browser_fails_saying_how_to_install_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<!doctype html><title>x</title>").expect("a page");
    let missing = dir.path().join("no-chromium-here");
    let failed = std::panic::catch_unwind(|| {
        check_pages_with(
            missing.to_str().expect("a UTF-8 path"),
            &[(page.as_path(), &[Viewport::desktop()][..])],
        )
    });
    let Err(panic) = failed else {
        panic!("a missing browser passed the check")
    };
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("apt-get install chromium"), "{message}");
}

/// Screenshots a page someone names: `LOADPLAN_PAGE=FILE` at desktop width into
/// `LOADPLAN_SCREENSHOTS=DIR/report.png` after the same checks. Run by
/// `bench/report_screenshots.sh` (which makes the README's `docs/report.png`), not by CI.
#[test]
#[ignore = "run by bench/report_screenshots.sh with LOADPLAN_PAGE and LOADPLAN_SCREENSHOTS"]
fn screenshot_a_named_page() {
    let page = std::path::PathBuf::from(
        std::env::var_os("LOADPLAN_PAGE").expect("LOADPLAN_PAGE names the page"),
    );
    let dir = std::path::PathBuf::from(
        std::env::var_os("LOADPLAN_SCREENSHOTS").expect("LOADPLAN_SCREENSHOTS names a folder"),
    );
    let mut viewport = Viewport::desktop().screenshot(dir.join("report.png"));
    if let Some(height) = std::env::var("LOADPLAN_SCREENSHOT_HEIGHT")
        .ok()
        .and_then(|h| h.parse::<f64>().ok())
    {
        viewport = viewport.clip_height(height);
    }
    check_page(&page, &[viewport]).assert_clean(&page);
}
