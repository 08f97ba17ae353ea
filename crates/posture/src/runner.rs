//! External commands, always with a timeout. A hung command is killed and reported as
//! [`Error::CommandTimedOut`], which probes turn into `unknown`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// What a finished command printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs external programs.
pub trait CommandRunner: Send + Sync + std::fmt::Debug {
    /// Runs `program args…`, killing it after `timeout`.
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput>;
}

/// Runs real processes with `LC_ALL=C` so outputs are in the wording parsers expect.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

/// Poll interval while waiting; short, commands we run finish in milliseconds.
const POLL: Duration = Duration::from_millis(2);

impl CommandRunner for SystemRunner {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput> {
        let mut child = Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::CommandNotFound {
                    program: program.to_owned(),
                },
                _ => Error::CommandSpawn {
                    program: program.to_owned(),
                    source,
                },
            })?;
        // Readers on their own threads so a chatty child never blocks on a full pipe.
        let out = child.stdout.take().map(spawn_reader);
        let err = child.stderr.take().map(spawn_reader);
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    // Best effort: the child may have exited between the two calls.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::CommandTimedOut {
                        program: program.to_owned(),
                        timeout,
                    });
                }
                Ok(None) => thread::sleep(POLL),
                Err(source) => {
                    return Err(Error::CommandSpawn {
                        program: program.to_owned(),
                        source,
                    });
                }
            }
        };
        let join = |h: Option<thread::JoinHandle<String>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(CommandOutput {
            code: status.code(),
            stdout: join(out),
            stderr: join(err),
        })
    }
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error leaves what was read so far; the exit code tells the rest.
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Refuses every command: the `--sysroot` mode and configurations without subprocesses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSubprocess;

impl CommandRunner for NoSubprocess {
    fn run(&self, program: &str, _args: &[&str], _timeout: Duration) -> Result<CommandOutput> {
        Err(Error::SubprocessDisabled {
            program: program.to_owned(),
        })
    }
}

/// Replays canned outputs keyed by `program args…` (tests, captured snapshots).
#[derive(Debug, Clone, Default)]
pub struct CannedRunner {
    entries: Vec<(String, CannedReply)>,
}

/// What a canned command does.
#[derive(Debug, Clone)]
pub enum CannedReply {
    Output(CommandOutput),
    TimedOut,
    NotFound,
}

impl CannedRunner {
    /// An empty runner (every command is "not found").
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reply for the exact command line.
    #[must_use]
    pub fn with(mut self, command_line: &str, reply: CannedReply) -> Self {
        self.entries.push((command_line.to_owned(), reply));
        self
    }

    /// Adds a successful reply printing `stdout`.
    #[must_use]
    pub fn ok(self, command_line: &str, stdout: &str) -> Self {
        self.with(
            command_line,
            CannedReply::Output(CommandOutput {
                code: Some(0),
                stdout: stdout.to_owned(),
                stderr: String::new(),
            }),
        )
    }
}

impl CommandRunner for CannedRunner {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        match self.entries.iter().find(|(k, _)| *k == line).map(|e| &e.1) {
            Some(CannedReply::Output(o)) => Ok(o.clone()),
            Some(CannedReply::TimedOut) => Err(Error::CommandTimedOut {
                program: program.to_owned(),
                timeout,
            }),
            Some(CannedReply::NotFound) | None => Err(Error::CommandNotFound {
                program: program.to_owned(),
            }),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn runs_and_captures_output() {
        let out = SystemRunner
            .run(
                "sh",
                &["-c", "echo hi; echo err >&2; exit 3"],
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(out.stdout, "hi\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.code, Some(3));
        assert!(!out.success());
    }

    #[test]
    fn hung_command_times_out() {
        let start = Instant::now();
        let err = SystemRunner
            .run("sleep", &["10"], Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(err, Error::CommandTimedOut { .. }), "got {err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the hung child must be killed, not waited for"
        );
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = SystemRunner
            .run("certgate-no-such-program", &[], Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(err, Error::CommandNotFound { .. }), "got {err:?}");
    }

    #[test]
    fn no_subprocess_refuses() {
        let err = NoSubprocess
            .run("nft", &["-j", "list", "ruleset"], Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(err, Error::SubprocessDisabled { .. }));
    }
}
