//! Samplers of `collect:` sources: one task per source, beside the load.
//!
//! ```text
//! start ──first sample of every source (at most READY_WAIT)──▶ stage runs ──stop──▶ last sample
//!          every `every`: scrape / run / read /proc ──▶ Aggregator (owned by the task)
//! ```
//!
//! Each task owns its source's aggregator, so sampling shares nothing with the VUs and the
//! event collector: it costs one small request (or command, or a few /proc reads) per
//! interval. Every sample is bounded by a timeout (the interval, at most 10 s; a command's
//! own `timeout`), and a failed sample is counted, never an error of the run. /proc reads
//! run on the blocking pool.
//!
//! At the end of the stage the sample in flight becomes the source's last one (between
//! samples, one more is taken as the last): never two after the stage. Once a signal has
//! stopped the run, that last sample gets at most [`LAST_AFTER_SIGNAL`], so the first
//! signal's stop is bounded by the VUs' graceful stop, not by a command's `timeout`. A stop
//! at once (a second signal, [`Halt::now_requested`]) wins over every wait here: the sample
//! in flight is dropped and no last one is taken. A command runs in a process group of its
//! own, and whatever is left of the group when its sample ends — it exited, timed out, or
//! was dropped — is killed (`SIGKILL` to the group), so nothing it started outlives the
//! sample.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use indexmap::IndexMap;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::shared::Halt;
use crate::collect::{Aggregator, Collected, Reading, process};
use crate::plan::metric::PROCESS_METRICS;
use crate::plan::model::{CollectSource, CommandParse, JsonFieldKind, ProcessSource};
use crate::plan::template::{Template, TemplateSet};
use crate::server::{ServerMetric, SourceReport};

/// Sampling interval when a source names none.
const DEFAULT_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for a scrape (shorter when the interval is).
const LONGEST_SCRAPE: Duration = Duration::from_secs(10);
/// Longest a command may run when its source sets no `timeout`.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the stage waits for the sources' first samples.
const READY_WAIT: Duration = Duration::from_secs(2);
/// Largest response or command output read.
const LARGEST_BODY: usize = 16 << 20;

type Finished = (SourceReport, Vec<(String, ServerMetric)>);

/// The running samplers of a run.
pub struct Sampling {
    stop: watch::Sender<bool>,
    tasks: Vec<(String, &'static str, JoinHandle<Finished>)>,
}

/// How a sample's text is read.
#[derive(Clone)]
enum Format {
    Prometheus {
        select: Vec<String>,
        labels: IndexMap<String, String>,
    },
    Json {
        fields: IndexMap<String, String>,
        kind: JsonFieldKind,
    },
}

enum Probe {
    Http {
        url: Result<hyper::Uri, String>,
        format: Format,
        timeout: Duration,
    },
    Command {
        run: String,
        /// The folder it runs in (the plan's); `None`: the current one.
        dir: Option<std::path::PathBuf>,
        format: Format,
        timeout: Duration,
    },
    Process {
        source: ProcessSource,
        pid: Option<u32>,
        previous: Option<(f64, process::Stat)>,
    },
}

impl Sampling {
    /// Starts one sampler per source, URLs rendered with `context`, and returns once each
    /// has taken its first sample (or after [`READY_WAIT`]).
    pub async fn start(
        sources: &[CollectSource],
        templates: &TemplateSet,
        context: &minijinja::Value,
        dir: Option<&std::path::Path>,
        halt: Arc<Halt>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let begun = Instant::now();
        let mut tasks = Vec::new();
        let mut readies = Vec::new();
        for source in sources {
            let (probe, every, kind, expected) = probe(source, templates, context, dir);
            let (ready, is_ready) = oneshot::channel();
            readies.push(is_ready);
            let aggregator = Aggregator::new(kind, expected);
            let task = tokio::spawn(sample(
                probe,
                every,
                aggregator,
                begun,
                Ends {
                    stage: stopped.clone(),
                    halt: Arc::clone(&halt),
                },
                ready,
                source.name().to_owned(),
            ));
            tasks.push((source.name().to_owned(), kind, task));
        }
        let first_samples = tokio::time::timeout(READY_WAIT, async {
            for ready in readies {
                let _ = ready.await;
            }
        });
        tokio::select! {
            _ = first_samples => {}
            () = halt.now_requested() => {}
        }
        Self { stop, tasks }
    }

    /// Takes each source's last sample and returns what they measured.
    pub async fn stop(self) -> Collected {
        let _ = self.stop.send(true);
        let mut collected = Collected::default();
        for (name, kind, task) in self.tasks {
            let (report, metrics) = task.await.unwrap_or_else(|error| {
                let report = SourceReport {
                    kind: kind.to_owned(),
                    error: Some(format!("the sampler failed: {error}")),
                    ..SourceReport::default()
                };
                (report, Vec::new())
            });
            collected.metrics.extend(metrics);
            collected.sources.insert(name, report);
        }
        collected
    }
}

fn probe(
    source: &CollectSource,
    templates: &TemplateSet,
    context: &minijinja::Value,
    dir: Option<&std::path::Path>,
) -> (Probe, Duration, &'static str, Vec<String>) {
    let every = |every: Option<crate::plan::units::Duration>| {
        every
            .map_or(DEFAULT_EVERY, |d| d.0)
            .max(Duration::from_millis(10))
    };
    let render = |url: &Template| -> Result<hyper::Uri, String> {
        let text = match templates.render_source(url.as_str(), context) {
            Some(rendered) => rendered.map_err(|e| format!("the URL cannot be rendered: {e}"))?,
            None => url.as_str().to_owned(),
        };
        text.parse::<hyper::Uri>()
            .map_err(|e| format!("invalid URL: {e}"))
    };
    match source {
        CollectSource::Prometheus(p) => {
            let every = every(p.every);
            let probe = Probe::Http {
                url: render(&p.url),
                format: Format::Prometheus {
                    select: p.select.clone(),
                    labels: p.labels.clone(),
                },
                timeout: every.min(LONGEST_SCRAPE),
            };
            (probe, every, "prometheus", p.select.clone())
        }
        CollectSource::Json(j) => {
            let every = every(j.every);
            let probe = Probe::Http {
                url: render(&j.url),
                format: Format::Json {
                    fields: j.fields.clone(),
                    kind: j.kind,
                },
                timeout: every.min(LONGEST_SCRAPE),
            };
            (probe, every, "json", j.fields.keys().cloned().collect())
        }
        CollectSource::Process(p) => {
            let probe = Probe::Process {
                source: p.clone(),
                pid: p.pid,
                previous: None,
            };
            let expected = PROCESS_METRICS.iter().map(|m| (*m).to_owned()).collect();
            (probe, every(p.every), "process", expected)
        }
        CollectSource::Command(c) => {
            let (format, expected) = match c.parse {
                CommandParse::Prometheus => (
                    Format::Prometheus {
                        select: Vec::new(),
                        labels: IndexMap::new(),
                    },
                    Vec::new(),
                ),
                CommandParse::Json => (
                    Format::Json {
                        fields: c.fields.clone(),
                        kind: JsonFieldKind::Gauge,
                    },
                    c.fields.keys().cloned().collect(),
                ),
            };
            let probe = Probe::Command {
                run: c.run.clone(),
                dir: dir.map(std::path::Path::to_path_buf),
                format,
                timeout: c.timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.0),
            };
            (probe, every(c.every), "command", expected)
        }
    }
}

/// What ends a sampler: the end of the stage (then the sample in flight, or else a new one,
/// is its last), or a stop at once (then it stops where it is).
struct Ends {
    stage: watch::Receiver<bool>,
    halt: Arc<Halt>,
}

/// How a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    /// Taken; the stage goes on.
    Sample,
    /// The stage ended during it, so it was the last one (taken, or cut short).
    Last,
    /// Dropped by a stop at once.
    Dropped,
}

async fn sample(
    mut probe: Probe,
    every: Duration,
    mut aggregator: Aggregator,
    begun: Instant,
    ends: Ends,
    ready: oneshot::Sender<()>,
    name: String,
) -> Finished {
    let Ends {
        stage: mut stopped,
        halt,
    } = ends;
    let mut taken = take_raced(&mut probe, &mut aggregator, begun, &mut stopped, &halt).await;
    let _ = ready.send(());
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while taken == Taken::Sample {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => {
                let sample = take(&mut probe, &mut aggregator, begun);
                if last_wait(sample, &halt).await == Some(true) {
                    aggregator.fail(cut_short());
                }
                break;
            }
            () = halt.now_requested() => break,
        }
        taken = take_raced(&mut probe, &mut aggregator, begun, &mut stopped, &halt).await;
    }
    aggregator.finish(&name)
}

/// Longest the last sample may take once a signal has stopped the run: the first signal
/// ends the run in its graceful stop, not in a command's `timeout` (or two).
const LAST_AFTER_SIGNAL: Duration = Duration::from_secs(1);

/// One sample, raced against the ends: a stop at once drops it; when the stage ends while
/// it runs, it becomes the source's last sample ([`last_wait`]) and no other is taken.
async fn take_raced(
    probe: &mut Probe,
    aggregator: &mut Aggregator,
    begun: Instant,
    stopped: &mut watch::Receiver<bool>,
    halt: &Halt,
) -> Taken {
    let cut = {
        let sample = take(probe, aggregator, begun);
        tokio::pin!(sample);
        tokio::select! {
            () = &mut sample => return Taken::Sample,
            () = halt.now_requested() => return Taken::Dropped,
            _ = stopped.changed() => {}
        }
        last_wait(sample, halt).await
    };
    if cut == Some(true) {
        aggregator.fail(cut_short());
    }
    Taken::Last
}

/// Waits for the source's last sample, already started as `sample`: within its own
/// timeout at the end of a stage, at most [`LAST_AFTER_SIGNAL`] once a signal has stopped
/// the run; a stop at once drops it. `Some(false)`: the sample ended; `Some(true)`: cut
/// short (a failed sample); `None`: dropped.
async fn last_wait(sample: impl Future<Output = ()>, halt: &Halt) -> Option<bool> {
    let signalled = halt.interrupted();
    let bound = async {
        if signalled {
            tokio::time::sleep(LAST_AFTER_SIGNAL).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = sample => Some(false),
        () = bound => Some(true),
        () = halt.now_requested() => None,
    }
}

fn cut_short() -> String {
    format!(
        "the last sample was cut short after {}: a signal stopped the run",
        seconds(LAST_AFTER_SIGNAL)
    )
}

/// Takes one sample into `aggregator`.
async fn take(probe: &mut Probe, aggregator: &mut Aggregator, begun: Instant) {
    let at = begun.elapsed().as_secs_f64();
    let result = match probe {
        Probe::Http {
            url,
            format,
            timeout,
        } => match url {
            Ok(url) => fetch(url, *timeout)
                .await
                .and_then(|body| read(&body, format)),
            Err(error) => Err(error.clone()),
        },
        Probe::Command {
            run,
            dir,
            format,
            timeout,
        } => command(run, dir.as_deref(), *timeout)
            .await
            .and_then(|out| read(&out, format)),
        Probe::Process {
            source,
            pid,
            previous,
        } => {
            let (source, known) = (source.clone(), *pid);
            let looked = tokio::task::spawn_blocking(move || {
                look(&source, known).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("reading /proc failed: {e}")));
            looked.map(|(found, stat)| {
                if *pid != Some(found) {
                    *previous = None;
                }
                *pid = Some(found);
                let reading = process::reading(*previous, at, &stat);
                // The CPU percentage is measured from the last look that gave one: CPU time
                // comes in 10 ms ticks, so a look soon after another (the one just after
                // the stage) waits for a longer interval instead of reading 120%.
                let measured = reading.iter().any(|(name, _)| name == "cpu_percent");
                if measured || previous.is_none_or(|(_, before)| before.started != stat.started) {
                    *previous = Some((at, stat));
                }
                (reading, Vec::new())
            })
        }
    };
    match result {
        Ok((reading, problems)) => {
            for (metric, problem) in problems {
                aggregator.problem(&metric, problem);
            }
            aggregator.record(at, &reading);
        }
        Err(error) => aggregator.fail(error),
    }
}

/// Finds the process (again, when the known pid is gone) and reads it.
fn look(
    source: &ProcessSource,
    known: Option<u32>,
) -> Result<(u32, process::Stat), process::ProcError> {
    if let Some(pid) = source.pid {
        return process::read(pid).map(|stat| (pid, stat));
    }
    if let Some(file) = &source.pid_file {
        let pid = process::pid_from_file(file)?;
        return process::read(pid).map(|stat| (pid, stat));
    }
    if let Some(pid) = known
        && let Ok(stat) = process::read(pid)
    {
        return Ok((pid, stat));
    }
    let name = source.process_name.as_deref().unwrap_or_default();
    let pid = process::find(name)?;
    process::read(pid).map(|stat| (pid, stat))
}

fn read(body: &[u8], format: &Format) -> Result<(Reading, Vec<(String, String)>), String> {
    match format {
        Format::Prometheus { select, labels } => {
            let text =
                std::str::from_utf8(body).map_err(|_| "unparseable: not UTF-8".to_owned())?;
            let exposition = crate::collect::prometheus::parse(text)
                .map_err(|error| format!("unparseable: {error}"))?;
            Ok((
                crate::collect::reading::from_prometheus(&exposition, select, labels),
                Vec::new(),
            ))
        }
        Format::Json { fields, kind } => {
            let document: serde_json::Value = serde_json::from_slice(body)
                .map_err(|error| format!("unparseable: not JSON: {error}"))?;
            Ok(crate::collect::reading::from_json(&document, fields, *kind))
        }
    }
}

/// GETs `url` on a new HTTP/1.1 connection within `timeout`.
async fn fetch(url: &hyper::Uri, timeout: Duration) -> Result<Bytes, String> {
    if url.scheme_str() != Some("http") {
        return Err(format!(
            "only http:// sources are supported, not {}",
            url.scheme_str().unwrap_or("a relative URL")
        ));
    }
    let (Some(host), Some(authority)) = (url.host(), url.authority()) else {
        return Err("the URL has no host".to_owned());
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_u16().unwrap_or(80);
    let path = url.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = authority.as_str().to_owned();
    let mut connection: Option<JoinHandle<()>> = None;
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| describe_io(&e))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("HTTP handshake: {e}"))?;
        connection = Some(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "loadplan")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("invalid request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no response: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status().as_u16()));
        }
        Limited::new(response.into_body(), LARGEST_BODY)
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .map_err(|e| format!("reading the response: {e}"))
    };
    let result = tokio::time::timeout(timeout, exchange).await;
    if let Some(connection) = connection {
        connection.abort();
    }
    result.unwrap_or_else(|_| Err(format!("timed out after {}", seconds(timeout))))
}

/// Runs `run` with `sh -c` in `dir` (or the current folder) in a process group of its
/// own, killed after `timeout`; its stdout when it exits with 0. Whatever is left of the
/// group when this returns or is dropped is killed.
async fn command(
    run: &str,
    dir: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut command = tokio::process::Command::new("sh");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .arg("-c")
        .arg(run)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn().map_err(|e| format!("cannot run sh: {e}"))?;
    let _group = ProcessGroup(child.id());
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("timed out after {}", seconds(timeout)))?
        .map_err(|e| format!("the command failed: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        return Err(format!("{}: {first}", output.status));
    }
    if output.stdout.len() > LARGEST_BODY {
        return Err("the output is over 16 MiB".to_owned());
    }
    Ok(output.stdout)
}

/// A command's process group (its id is the `sh`'s pid), killed when dropped: after the
/// sample, on its timeout, and when a stop at once drops the sample. `sh` itself is killed
/// by tokio's `kill_on_drop` and reaped by tokio; the rest of the group (what the command
/// started) is reparented and reaped by init. The group id cannot name another group while
/// any member lives, and a killed group is gone, so the kill reaches only what the command
/// started.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            // ESRCH (the group is already gone) is the usual answer and is no problem.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        std::io::ErrorKind::TimedOut => "connect timed out".to_owned(),
        _ => format!("cannot connect: {error}"),
    }
}
