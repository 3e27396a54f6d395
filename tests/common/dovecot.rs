//! A real Dovecot (Debian's dovecot-imapd, 2.3) started by the tests: unprivileged, private
//! config in a temp dir, ephemeral loopback ports, a self-signed certificate made here, a
//! passwd-file user, mail written straight into its Maildir. Stopped on drop.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse";

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    child: Child,
    pub imaps_port: u16,
    pub imap_port: u16,
    pub conf: PathBuf,
    mail_uid: u32,
    mail_gid: u32,
    next_file: std::cell::Cell<u64>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dovecot_bin() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Start a server, or return None (test skipped) when Dovecot is not installed. With
/// BCCAUDIT_REQUIRE_DOVECOT set (as in CI) a missing Dovecot fails the test instead.
pub fn start() -> Option<Dovecot> {
    let Some(bin) = dovecot_bin() else {
        if std::env::var_os("BCCAUDIT_REQUIRE_DOVECOT").is_some() {
            panic!("Dovecot is required (BCCAUDIT_REQUIRE_DOVECOT) but not installed: apt-get install dovecot-imapd");
        }
        eprintln!(
            "SKIPPED: Dovecot not installed (apt-get install dovecot-imapd); IMAP test not run"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl could not make a certificate");
    let root = unsafe { libc::geteuid() } == 0;
    let (uid, gid, login_user, group) = if root {
        (65534, 65534, "nobody".to_string(), "nogroup".to_string())
    } else {
        let name =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let group =
            String::from_utf8(Command::new("id").arg("-gn").output().unwrap().stdout).unwrap();
        unsafe {
            (
                libc::geteuid(),
                libc::getegid(),
                name.trim().to_string(),
                group.trim().to_string(),
            )
        }
    };
    let home = d.join("mail").join(USER);
    for sub in [
        "Maildir/cur",
        "Maildir/new",
        "Maildir/tmp",
        "Maildir/.Sent/cur",
        "Maildir/.Sent/new",
        "Maildir/.Sent/tmp",
    ] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("passwd"),
        format!(
            "{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}::\n",
            home.display()
        ),
    )
    .unwrap();
    let (imaps_port, imap_port) = (free_port(), free_port());
    let conf = d.join("dovecot.conf");
    let p = d.display();
    std::fs::create_dir_all(d.join("run")).unwrap();
    std::fs::create_dir_all(d.join("state")).unwrap();
    std::fs::write(
        &conf,
        format!(
            r#"base_dir = {p}/run
state_dir = {p}/state
instance_name = bccaudit-test-{imaps_port}
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{p}/cert.pem
ssl_key = <{p}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {login_user}
default_internal_group = {group}
first_valid_uid = 0
log_path = {p}/dovecot.log
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {p}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {p}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"#
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Dovecot {
        dir,
        child,
        imaps_port,
        imap_port,
        conf,
        mail_uid: uid,
        mail_gid: gid,
        next_file: std::cell::Cell::new(0),
    };
    server.chown_mail();
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", imaps_port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "Dovecot did not start: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(server)
}

impl Dovecot {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn url(&self) -> String {
        format!("imaps://{USER}@localhost:{}", self.imaps_port)
    }

    pub fn sent_dir(&self) -> PathBuf {
        self.dir
            .path()
            .join("mail")
            .join(USER)
            .join("Maildir/.Sent")
    }

    fn chown_mail(&self) {
        fn walk(p: &Path, uid: u32, gid: u32) {
            let _ = std::os::unix::fs::chown(p, Some(uid), Some(gid));
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap().flatten() {
                    walk(&e.path(), uid, gid);
                }
            }
        }
        walk(&self.dir.path().join("mail"), self.mail_uid, self.mail_gid);
    }

    /// Put messages into Sent (`flags` is the Maildir info, e.g. "S" for \Seen, "" for unseen).
    pub fn add_sent(&self, messages: &[(Vec<u8>, &str)]) {
        let cur = self.sent_dir().join("cur");
        for (m, flags) in messages {
            let n = self.next_file.get();
            self.next_file.set(n + 1);
            let name = format!("{}.M{n}P1.test:2,{flags}", 1_700_000_000 + n);
            let mut f = std::fs::File::create(cur.join(name)).unwrap();
            f.write_all(m).unwrap();
        }
        self.chown_mail();
    }

    /// Put one message into Sent with a given file mtime (Dovecot's INTERNALDATE for Maildir).
    pub fn add_sent_at(&self, message: &[u8], mtime_unix: i64) {
        self.add_sent(&[(message.to_vec(), "S")]);
        let n = self.next_file.get() - 1;
        let name = format!("{}.M{n}P1.test:2,S", 1_700_000_000 + n);
        let t = std::time::UNIX_EPOCH + Duration::from_secs(mtime_unix as u64);
        std::fs::File::options()
            .write(true)
            .open(self.sent_dir().join("cur").join(name))
            .unwrap()
            .set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
            .unwrap();
    }

    /// Forget Sent's UIDs: Dovecot then gives the folder a new UIDVALIDITY.
    pub fn reset_uids(&self) {
        for e in std::fs::read_dir(self.sent_dir()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("dovecot") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Stop the whole server: the master and every process under it (login, auth, imap), so
    /// every connection drops and none can be made.
    pub fn stop(&mut self) {
        let master = self.child.id() as i32;
        let mut tree = vec![master];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(
                processes()
                    .into_iter()
                    .filter(|p| p.1 == parent)
                    .map(|p| p.0),
            );
            i += 1;
        }
        for pid in tree {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }

    /// `uid flags` of every message in Sent, as Dovecot's own doveadm reports them.
    pub fn flags(&self) -> String {
        let o = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(["fetch", "-u", USER, "uid flags", "mailbox", "Sent", "all"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "doveadm: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// PIDs of the server's imap processes (one per client connection).
    pub fn imap_pids(&self) -> Vec<i32> {
        let master = self.child.id() as i32;
        processes()
            .into_iter()
            .filter(|(_, ppid, comm)| comm == "imap" && *ppid == master)
            .map(|p| p.0)
            .collect()
    }
}

/// (pid, parent pid, command name) of every process, from /proc.
fn processes() -> Vec<(i32, i32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = comm.split_once('(').map_or("", |x| x.1);
        let ppid: i32 = rest
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid, comm.to_string()));
    }
    out
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
