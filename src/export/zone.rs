//! A time zone for the documents people read (`--tz`, an IANA name): the zone database is
//! built into the binary, so the same input gives the same bytes on every machine.

use jiff::tz::TimeZone;

#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }
}

impl Zone {
    /// The zone named `name` (`Europe/London`, `UTC`, …).
    pub fn named(name: &str) -> Result<Zone, String> {
        let tz = TimeZone::get(name).map_err(|_| {
            format!("unknown time zone {name:?} (an IANA name such as Europe/London)")
        })?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `2024-03-05 14:00 GMT`: a Unix time in this zone, to the minute, with its abbreviation.
    pub fn local(&self, t: i64) -> String {
        if self.name == "UTC" {
            return self.local_of(t, &crate::parse::date::rfc3339(t));
        }
        self.by_jiff(t)
    }

    /// [`Zone::local`] of `t`, given its RFC 3339 form (`utc`, as [`crate::parse::date::rfc3339`]
    /// writes it): the default zone is made from that (once per date of every incident),
    /// `YYYY-MM-DDTHH:MM:SSZ` → `YYYY-MM-DD HH:MM UTC`, for four-digit years.
    pub fn local_of(&self, t: i64, utc: &str) -> String {
        if self.name == "UTC" && utc.len() == 20 && utc.as_bytes()[0].is_ascii_digit() {
            let mut s = String::with_capacity(20);
            s.push_str(&utc[..10]);
            s.push(' ');
            s.push_str(&utc[11..16]);
            s.push_str(" UTC");
            return s;
        }
        self.by_jiff(t)
    }

    fn by_jiff(&self, t: i64) -> String {
        jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned_datetime(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_by_name_with_summer_time() {
        let z = Zone::named("Europe/London").unwrap();
        assert_eq!(z.local(1_719_835_200), "2024-07-01 13:00 BST");
        assert_eq!(z.local(1_704_110_400), "2024-01-01 12:00 GMT");
        assert_eq!(Zone::default().local(0), "1970-01-01 00:00 UTC");
        assert!(Zone::named("Mars/Olympus").is_err());
    }

    #[test]
    fn utc_is_written_as_the_zone_database_writes_it() {
        for z in [Zone::default(), Zone::named("UTC").unwrap()] {
            let mut t = -62_167_219_200i64; // 0000-01-01
            while t < 253_402_300_800 {
                assert_eq!(z.local(t), z.by_jiff(t), "{t}");
                t += 7_777_777 + t.rem_euclid(86_399);
            }
            for t in [
                -62_167_219_201,
                253_402_300_800,
                i64::MIN,
                i64::MAX,
                0,
                59,
                60,
            ] {
                assert_eq!(z.local(t), z.by_jiff(t), "{t}");
            }
        }
    }
}
