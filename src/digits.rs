//! Decimal digits without the formatting machinery, for numbers written once per row of
//! millions (incident ids, CSV counts).

/// The decimal digits of `n`, at the end of `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn as_the_formatter_writes_them() {
        let mut buf = [0u8; 20];
        for n in [0, 7, 10, 99, 100, 123_456_789, u64::MAX] {
            assert_eq!(super::decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
