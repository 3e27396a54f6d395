//! The timeline of report.html: an inline SVG, one bar per period (height: people exposed by
//! the exposing messages sent in it), one mark per incident (at its first send; the 200
//! largest when there are more). The period is a day, a week, a month or a quarter, whichever
//! keeps the bars countable, so a week of mail and ten years of it both read.

use std::io::Write;

use crate::analysis::Report;
use crate::parse::date::{civil, rfc3339};

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
/// Bottom of the bars; incident marks and date labels below it.
const BASE: f64 = 170.0;
const MAX_BARS: i64 = 160;
/// Incidents marked at most (the largest; see [`marked`]).
const MAX_MARKS: usize = 200;
const DAY: i64 = 86_400;

/// Periods, shortest first: (seconds, name).
const PERIODS: &[(i64, &str)] = &[
    (DAY, "day"),
    (7 * DAY, "week"),
    (30 * DAY, "month"),
    (91 * DAY, "quarter"),
    (365 * DAY, "year"),
];

/// The SVG (escaped text only: every label is made here from numbers and dates).
pub fn write_svg(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let dated: Vec<(i64, usize)> = report
        .messages
        .iter()
        .filter_map(|m| Some((m.finding.date?, m.exposed_count)))
        .collect();
    let sizes: Vec<(Option<i64>, usize)> = report
        .incidents
        .iter()
        .map(|i| (i.first_sent, i.exposed))
        .collect();
    let (marked, capped) = marked(&sizes);
    let (Some(first), Some(last)) = (
        dated.iter().map(|d| d.0).min(),
        dated.iter().map(|d| d.0).max(),
    ) else {
        return out.write_all(b"<p class=\"muted\">No exposing message has a date.</p>");
    };
    let (period, name) = PERIODS
        .iter()
        .copied()
        .find(|(p, _)| (last - first) / p < MAX_BARS)
        .unwrap_or((365 * DAY, "year"));
    let start = first.div_euclid(period) * period;
    let bars = ((last - start) / period + 1) as usize;
    let mut people = vec![0usize; bars];
    for &(t, n) in &dated {
        people[((t - start) / period) as usize] += n;
    }
    let max = people.iter().copied().max().unwrap_or(1).max(1);
    let span = (bars as i64 * period) as f64;
    let x_of = |t: i64| LEFT + (t - start) as f64 / span * (WIDTH - LEFT - RIGHT);
    let bar_w = ((WIDTH - LEFT - RIGHT) / bars as f64).max(1.0);
    write!(
        out,
        "<svg id=\"timeline-svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"People exposed per {name}, {} to {}\">",
        &rfc3339(first)[..10],
        &rfc3339(last)[..10]
    )?;
    if capped {
        write!(
            out,
            "<title>People exposed per {name}; red marks: the {} largest incidents</title>",
            marked.len()
        )?;
    } else {
        write!(
            out,
            "<title>People exposed per {name}; red marks: incidents</title>"
        )?;
    }
    // Axes and the largest value.
    write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BASE}\" x2=\"{}\" y2=\"{BASE}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{BASE}\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text>\
         <text x=\"{}\" y=\"{BASE}\" text-anchor=\"end\">0</text>",
        WIDTH - RIGHT,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
    )?;
    for (i, &n) in people.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let h = (n as f64 / max as f64 * (BASE - TOP)).max(1.5);
        let t = start + i as i64 * period;
        write!(
            out,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{} ({name}): {n} people exposed</title></rect>",
            x_of(t),
            BASE - h,
            (bar_w * 0.85).max(1.0),
            &rfc3339(t)[..10],
        )?;
    }
    for inc in marked.iter().map(|&k| &report.incidents[k]) {
        if let Some(t) = inc.first_sent {
            write!(
                out,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{}\" r=\"3.5\"><title>{}: first sent {}, {} people exposed</title></circle>",
                x_of(t) + bar_w * 0.42,
                BASE + 9.0,
                inc.id,
                &rfc3339(t)[..10],
                inc.exposed
            )?;
        }
    }
    for (t, label) in ticks(start, start + bars as i64 * period) {
        write!(
            out,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{BASE}\" x2=\"{x:.1}\" y2=\"{}\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            BASE + 4.0,
            BASE + 34.0,
            x = x_of(t),
        )?;
    }
    out.write_all(b"</svg>")
}

/// The incidents given a mark, in incident order: all those dated, or the [`MAX_MARKS`] that
/// exposed most people (the earlier first on a tie) when there are more (then `true`): forty
/// thousand marks on one line say no more than two hundred, and weigh megabytes.
/// `incidents`: each one's first send and people exposed.
fn marked(incidents: &[(Option<i64>, usize)]) -> (Vec<usize>, bool) {
    let dated = |k: &usize| incidents[*k].0.is_some();
    let mut ks: Vec<usize> = (0..incidents.len()).filter(dated).collect();
    let capped = ks.len() > MAX_MARKS;
    if capped {
        ks.sort_by_key(|&k| (std::cmp::Reverse(incidents[k].1), k));
        ks.truncate(MAX_MARKS);
        ks.sort_unstable();
    }
    (ks, capped)
}

/// Date labels for the axis: years, months or days, at most about ten.
fn ticks(from: i64, to: i64) -> Vec<(i64, String)> {
    let span_days = (to - from) / DAY;
    let mut out = Vec::new();
    if span_days > 3 * 365 {
        let (y0, ..) = civil(from);
        let (y1, ..) = civil(to);
        let step = ((y1 - y0) / 10 + 1).max(1);
        let mut y = y0 + 1;
        while y <= y1 {
            out.push((days_from_civil(y, 1, 1) * DAY, y.to_string()));
            y += step;
        }
    } else if span_days > 60 {
        let (mut y, mut m, ..) = civil(from);
        let months = span_days / 30;
        let step = (months / 10 + 1).max(1);
        loop {
            m += step;
            while m > 12 {
                m -= 12;
                y += 1;
            }
            let t = days_from_civil(y, m, 1) * DAY;
            if t > to {
                break;
            }
            out.push((t, format!("{y}-{m:02}")));
        }
    } else {
        let step = (span_days / 10 + 1).max(1) * DAY;
        let mut t = from.div_euclid(DAY) * DAY;
        while t <= to {
            out.push((t, rfc3339(t)[..10].to_string()));
            t += step;
        }
    }
    out
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_incidents_are_marked_when_there_are_too_many() {
        let few = [(Some(5), 10), (None, 99), (Some(1), 3)];
        assert_eq!(marked(&few), (vec![0, 2], false));
        // 300 dated incidents exposing 0..300 people, and one undated larger than all.
        let mut many: Vec<(Option<i64>, usize)> = (0..300).map(|n| (Some(n as i64), n)).collect();
        many.push((None, 1000));
        many.push((Some(7), 100)); // ties with incident 100, the last one in: the earlier wins
        let (ks, capped) = marked(&many);
        assert!(capped);
        assert_eq!(ks.len(), MAX_MARKS);
        assert!(ks.windows(2).all(|w| w[0] < w[1]), "in incident order");
        assert_eq!((ks[0], ks[MAX_MARKS - 1]), (100, 299));
        assert!(ks.contains(&100) && !ks.contains(&301) && !ks.contains(&99));
        assert!(!ks.contains(&300), "undated: never marked");
    }

    #[test]
    fn civil_days_round_trip() {
        for t in [0i64, 951_782_400, 1_709_251_200, 4_102_444_800] {
            let (y, m, d, ..) = civil(t);
            assert_eq!(days_from_civil(y, m, d) * DAY, t.div_euclid(DAY) * DAY);
        }
    }

    #[test]
    fn ticks_read_from_a_week_to_ten_years() {
        let day = 1_704_067_200; // 2024-01-01
        let week = ticks(day, day + 7 * DAY);
        assert!(week.len() >= 7 && week[0].1 == "2024-01-01");
        let year = ticks(day, day + 365 * DAY);
        assert!(
            year.len() >= 5 && year.iter().all(|t| t.1.len() == 7),
            "{year:?}"
        );
        let decade = ticks(day, day + 3650 * DAY);
        assert!(decade.len() <= 11 && decade.iter().any(|t| t.1 == "2030"));
    }
}
