//! A real headless Chromium driven over the DevTools protocol (a WebSocket, `tungstenite`):
//! enough to open a page, evaluate script, click, type, and collect what the page logged and
//! requested. Chromium is started with the network shut (an unreachable proxy, no name
//! resolution), a fresh profile, and the flags that stop its own background traffic.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    session: String,
    /// Every event received so far (method, params).
    pub events: Vec<(String, Value)>,
    _profile: tempfile::TempDir,
}

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

/// Start Chromium, or return None (test skipped) when it is not installed. With
/// BCCAUDIT_REQUIRE_CHROMIUM set (as in CI) a missing Chromium fails the test instead.
pub fn launch() -> Option<Browser> {
    let Some(bin) = chromium() else {
        if std::env::var_os("BCCAUDIT_REQUIRE_CHROMIUM").is_some() {
            panic!("Chromium is required (BCCAUDIT_REQUIRE_CHROMIUM) but not installed: apt-get install chromium");
        }
        eprintln!(
            "SKIPPED: Chromium not installed (apt-get install chromium); browser test not run"
        );
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-port=0",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    // Chromium writes its port and the browser's WebSocket path into the profile.
    let port_file = profile.path().join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Ok(t) = std::fs::read_to_string(&port_file) {
            if t.lines().count() >= 2 {
                break t;
            }
        }
        assert!(Instant::now() < deadline, "Chromium did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut lines = text.lines();
    let port = lines.next().unwrap().trim().to_string();
    let path = lines.next().unwrap().trim().to_string();
    let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (ws, _) =
        tungstenite::client::client(format!("ws://127.0.0.1:{port}{path}"), stream).unwrap();
    let mut b = Browser {
        child,
        ws,
        next_id: 0,
        session: String::new(),
        events: Vec::new(),
        _profile: profile,
    };
    let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
    let id = target["targetId"].as_str().unwrap().to_string();
    let attached = b.call(
        "Target.attachToTarget",
        json!({"targetId": id, "flatten": true}),
    );
    b.session = attached["sessionId"].as_str().unwrap().to_string();
    for domain in ["Page", "Runtime", "Log", "Network"] {
        b.call(&format!("{domain}.enable"), json!({}));
    }
    Some(b)
}

impl Browser {
    /// Send a command (to the page once attached) and wait for its result; events that arrive
    /// meanwhile are kept.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let v = self.read();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("DevTools connection") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if let Some(m) = v["method"].as_str() {
                        self.events.push((m.to_string(), v["params"].clone()));
                    }
                    return v;
                }
                Message::Close(_) => panic!("Chromium closed the DevTools connection"),
                _ => {}
            }
        }
    }

    /// Wait until an event named `method` has arrived (or panic after 30 s).
    pub fn wait_for(&mut self, method: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.events.iter().any(|(m, _)| m == method) {
            assert!(Instant::now() < deadline, "no {method}");
            self.read();
        }
    }

    /// Open a URL and wait for its load event.
    pub fn open(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("Page.loadEventFired");
    }

    /// The value of a JavaScript expression (JSON-serialisable).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// A real mouse click in the middle of the element `selector` finds.
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView({{block: 'center'}}); const b = e.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; }})()"
        ));
        let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Type text into the focused element, as a keyboard would.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// What the page reported as errors: console errors, uncaught exceptions, log errors
    /// (a Content-Security-Policy violation is one).
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(m, p)| match m.as_str() {
                "Runtime.exceptionThrown" => Some(p["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled" if p["type"] == "error" => Some(p["args"].to_string()),
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    Some(p["entry"]["text"].to_string())
                }
                "Page.javascriptDialogOpening" => Some(format!("dialog: {p}")),
                _ => None,
            })
            .collect()
    }

    /// Every URL the page asked for.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|(m, _)| m == "Network.requestWillBeSent")
            .map(|(_, p)| p["request"]["url"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// A PNG of the page's top (width × height CSS pixels).
    pub fn screenshot(&mut self, width: u32, height: u32) -> Vec<u8> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        self.eval("window.scrollTo(0, 0)");
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64_decode(r["data"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut sink = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut sink);
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in chunk {
            n = n << 6 | if c == b'=' { 0 } else { val(c) };
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    out
}
