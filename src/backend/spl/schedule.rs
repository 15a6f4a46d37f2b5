//! When a saved search runs and how long a finding it raised stays throttled.

/// `alert.suppress.period` of a window: whole hours when it is some, else minutes.
pub fn suppress_period(minutes: u64) -> String {
    if minutes % 60 == 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// `cron_schedule` for a frequency: every n minutes or hours (dividing the hour / day), or
/// daily. Anything else has no exact cron form.
pub fn cron(minutes: u64) -> Option<String> {
    match minutes {
        m if m < 60 && 60 % m == 0 => Some(format!("*/{m} * * * *")),
        60 => Some("0 * * * *".into()),
        m if m % 60 == 0 && m < 1440 && 1440 % m == 0 => Some(format!("0 */{} * * *", m / 60)),
        1440 => Some("0 0 * * *".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_forms() {
        assert_eq!(cron(5).as_deref(), Some("*/5 * * * *"));
        assert_eq!(cron(60).as_deref(), Some("0 * * * *"));
        assert_eq!(cron(360).as_deref(), Some("0 */6 * * *"));
        assert_eq!(cron(1440).as_deref(), Some("0 0 * * *"));
        assert_eq!(cron(7), None);
        assert_eq!(cron(2880), None);
    }
}
