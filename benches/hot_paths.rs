//! Criterion benchmarks of the hot paths: mbox boundary search, header-block extraction,
//! address extraction. `cargo bench --bench hot_paths`.

use bccaudit::parse::{address, header, message};
use bccaudit::source::mbox;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn sample_mbox(messages: usize, body: usize) -> Vec<u8> {
    let mut m = Vec::new();
    for i in 0..messages {
        m.extend_from_slice(
            format!(
                "From sender@police.example Mon Jan  1 00:00:00 2024\nFrom: Sender <sender@police.example>\nTo: A Person <a{i}@example.org>, b{i}@example.org\nSubject: message {i}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <{i}@x.test>\n\n"
            )
            .as_bytes(),
        );
        m.extend(std::iter::repeat_n(b'z', body));
        m.extend_from_slice(b"\n\n");
    }
    m
}

fn boundaries(c: &mut Criterion) {
    let data = sample_mbox(2000, 6000);
    let mut g = c.benchmark_group("mbox");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("split 12 MB of 6 KB messages", |b| {
        b.iter(|| {
            mbox::split(black_box(&data), true, true, usize::MAX, usize::MAX)
                .spans
                .len()
        })
    });
    g.finish();
}

fn headers(c: &mut Criterion) {
    let data = sample_mbox(1, 100);
    let msg = &data[data.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let mut g = c.benchmark_group("header");
    g.throughput(Throughput::Elements(1));
    g.bench_function("header_end + envelope of a small message", |b| {
        b.iter(|| {
            let (h, _, _) = header::header_end(black_box(msg));
            message::envelope(&msg[..h]).to.len()
        })
    });
    g.finish();
}

fn addresses(c: &mut Criterion) {
    let list: Vec<String> = (0..300)
        .map(|i| match i % 3 {
            0 => format!("\"Doe, Jane {i}\" <jane{i}@example.org>"),
            1 => format!("=?UTF-8?Q?M=C3=BCller?= <m{i}@example.org>"),
            _ => format!("p{i}@example.org"),
        })
        .collect();
    let v = list.join(",\r\n ").into_bytes();
    let mut g = c.benchmark_group("address");
    g.throughput(Throughput::Elements(300));
    g.bench_function("parse_address_list, 300 recipients", |b| {
        b.iter(|| address::parse_address_list(black_box(&v)).mailboxes.len())
    });
    g.finish();
}

criterion_group!(benches, boundaries, headers, addresses);
criterion_main!(benches);
