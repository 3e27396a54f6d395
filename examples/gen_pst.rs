//! Writes a large synthetic Outlook PST for benchmarks (with the test PST writer): a Sent Items
//! folder of N messages, most to one to three people, every 100th a mass send in To to 50
//! residents, each with a body of about B bytes. Deterministic.
//!
//!     cargo run --release --example gen_pst -- /tmp/big.pst 100000 10000

#[path = "../tests/common/msg_writer.rs"]
mod msg_writer;
#[path = "../tests/common/pst_writer.rs"]
mod pst_writer;

use msg_writer::{Msg, Recip};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: gen_pst OUT.pst MESSAGES BODY_BYTES");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().expect("MESSAGES");
    let body_len: usize = args[3].parse().expect("BODY_BYTES");
    let path = std::path::Path::new(&args[1]);
    let (mut w, top) = pst_writer::PstWriter::create(path, "Benchmark").expect("create");
    let sent = w.folder(top, "Sent Items");
    let line = "Thank you for your message; the team will come back to you shortly. ";
    let body: String = line.repeat(body_len / line.len() + 1)[..body_len].to_string();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..n {
        let count = if i % 100 == 0 {
            50
        } else {
            1 + (next() % 3) as usize
        };
        let recipients = (0..count)
            .map(|_| {
                let p = next() % 200_000;
                Recip::smtp(1, &format!("Resident {p}"), &format!("r{p}@example.org"))
            })
            .collect();
        let m = Msg {
            subject: format!("Your enquiry {i}"),
            message_id: Some(format!("<m{i}@police.example>")),
            sent: Some(1_700_000_000 + i as i64 * 60),
            sender_name: "Contact Centre".into(),
            sender_smtp: "contact@police.example".into(),
            recipients,
            body: body.clone(),
            ..Msg::default()
        };
        w.message(sent, &m).expect("write");
    }
    w.finish().expect("finish");
}
