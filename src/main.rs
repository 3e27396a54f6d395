//! The command line: argument definitions, the progress observer, exit codes. The work is done
//! by the library (`bccaudit::run`); each command is a file in `src/cli/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bccaudit::export::terminal_safe;
use bccaudit::source::imap::mask_password;

/// Print a line to standard output. A closed pipe (`bccaudit … | head -1`) ends the output,
/// not the program: the reports are already written by the time anything is printed. Control
/// characters (from subjects, file names, a server's replies) are escaped, never obeyed.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($t)*);
        let _ = writeln!(std::io::stdout().lock(), "{}", bccaudit::export::terminal_safe(&line));
    }};
}

/// Print a line to standard error, control characters escaped.
macro_rules! err {
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        eprintln!("{}", bccaudit::export::terminal_safe(&line));
    }};
}

mod cli;

/// mimalloc: the scan allocates and frees many small strings on several threads at once
/// (names, addresses, report rows); glibc's allocator spent ~16% of a heavy run in malloc/free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (the allocator asks for them). A run builds
/// and frees its structures phase by phase; each first touch of a huge page zeroes 2 MB of
/// which a phase may use little. On the development machine the 40,000-message benchmark
/// peaked at 150 MB instead of 175-190 MB, the realistic mbox at 117-129 MB instead of
/// 165-203 MB, and their system time no longer jumped (0.11-0.17 s against 0.06-0.51 s).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: a process attribute; no memory is touched. On failure (an old kernel) the
    // pages stay as the system gives them.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "bccaudit",
    version,
    about = "Find sent mail that exposed recipients' addresses in To/Cc, and write the lists a data-protection officer needs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan mboxes, Maildirs, folders of message files (and IMAP URLs) and write the reports.
    Scan(Box<cli::scan::ScanArgs>),
    /// Merge partial results (`scan --partial`) into the report one run would have written.
    Merge(cli::merge::MergeArgs),
    /// List the folders of an IMAP account, marking those `scan` would read.
    Folders(cli::imap_opts::ImapArgs),
}

fn main() -> ExitCode {
    no_huge_pages();
    install_signal_cleanup();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with 0; errors are one masked line, exit 2.
            let text = mask_password(&e.render().to_string());
            if e.use_stderr() {
                eprint!("{}", terminal_safe(&text));
                return ExitCode::from(2);
            }
            print!("{text}");
            return ExitCode::SUCCESS;
        }
    };
    let r = match cli.command {
        Command::Scan(a) => cli::scan::run(*a, recorded_arguments(&args)),
        Command::Merge(a) => cli::merge::run(a, recorded_arguments(&args)),
        Command::Folders(a) => cli::imap_opts::run_folders(a),
    };
    match r {
        Ok(code) => code,
        Err(_) if bccaudit::export::out_dir::interrupted() => {
            // The signal thread removed the staging directory under the run's feet and ends
            // the process with the signal's status: wait for it rather than report the files
            // it removed as an error.
            std::thread::sleep(std::time::Duration::from_secs(10));
            ExitCode::from(130)
        }
        Err(e) => {
            err!("bccaudit: {}", mask_password(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP are blocked in every thread (this runs before any is started) and
/// taken by one thread that removes the report being staged, so an interrupted run leaves no
/// personal data behind and the previous report untouched.
fn install_signal_cleanup() {
    // SAFETY: signal-mask calls on a zeroed, initialised sigset_t; sigwait in the thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("bccaudit-signals".into())
            .spawn(move || {
                let mut sig = 0;
                if libc::sigwait(&set, &mut sig) == 0 {
                    bccaudit::export::out_dir::remove_staging();
                    eprintln!("bccaudit: interrupted; no report was written");
                    std::process::exit(128 + sig);
                }
            });
    }
}

/// The command line as recorded in summary.json: any password in an IMAP URL is masked, in
/// every spelling; bytes that are not UTF-8 are recorded lossily.
fn recorded_arguments(args: &[std::ffi::OsString]) -> Vec<String> {
    args.iter()
        .map(|a| mask_password(&a.to_string_lossy()))
        .collect()
}
