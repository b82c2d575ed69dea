//! Ticket classes and traffic mixes (`--mix valid=0.5,bad_mac=0.5`).

use core::fmt;
use core::str::FromStr;

/// One kind of ticket a client (honest or not) presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Sealed by the current sealing key, fresh timestamp: must resume with the right state.
    Valid,
    /// Sealed by an opening-only key: must resume and be renewed.
    Renew,
    /// Sealed by the sealing key, timestamp older than the policy lifetime: full handshake.
    Expired,
    /// Sealed by the sealing key, timestamp beyond the allowed clock skew: full handshake.
    Future,
    /// Random key name: rejected at key lookup.
    UnknownKey,
    /// Real key name and layout, ciphertext bit flipped so the MAC fails (the attacker's
    /// most expensive move: it forces a full MAC computation).
    BadMac,
    /// A correct MAC over a ciphertext with bad CBC padding (only a key holder can make it);
    /// for the AEAD format, a correct tag over a state that does not decode.
    BadPadding,
    /// A valid ticket cut short at a random length.
    Truncated,
    /// Random bytes of random length.
    Garbage,
    /// Longer than the longest ticket the server issues.
    Oversized,
}

impl Class {
    /// Number of classes.
    pub const COUNT: usize = 10;
    /// Every class, in report order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::Valid,
        Self::Renew,
        Self::Expired,
        Self::Future,
        Self::UnknownKey,
        Self::BadMac,
        Self::BadPadding,
        Self::Truncated,
        Self::Garbage,
        Self::Oversized,
    ];

    /// The stable name used by `--mix` and the JSON report.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Renew => "renew",
            Self::Expired => "expired",
            Self::Future => "future",
            Self::UnknownKey => "unknown_key",
            Self::BadMac => "bad_mac",
            Self::BadPadding => "bad_padding",
            Self::Truncated => "truncated",
            Self::Garbage => "garbage",
            Self::Oversized => "oversized",
        }
    }

    /// Position in [`Class::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Tickets a server must accept (anything else must never be accepted).
    pub const fn should_resume(self) -> bool {
        matches!(self, Self::Valid | Self::Renew)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Class {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| MixError::UnknownClass(s.to_owned()))
    }
}

/// Why a `--mix` value was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum MixError {
    /// A class name that does not exist.
    UnknownClass(String),
    /// An item without `=`, or a fraction that is not a finite number in 0..=1.
    BadItem(String),
    /// A class named twice.
    Duplicate(&'static str),
    /// The fractions do not sum to 1 (within 1e-6).
    BadSum(f64),
}

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Class::ALL.iter().map(|c| c.as_str()).collect();
        match self {
            Self::UnknownClass(s) => {
                write!(f, "unknown class {s:?} (classes: {})", names.join(", "))
            }
            Self::BadItem(s) => write!(
                f,
                "bad mix item {s:?}: expected CLASS=FRACTION with a number between 0 and 1"
            ),
            Self::Duplicate(c) => write!(f, "class {c} appears twice in the mix"),
            Self::BadSum(s) => write!(f, "mix fractions sum to {s}, not 1 (tolerance 1e-6)"),
        }
    }
}

impl std::error::Error for MixError {}

/// Fractions of traffic per class, summing to 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    fractions: [f64; Class::COUNT],
}

impl Mix {
    /// Tolerance on the sum of fractions.
    pub const SUM_TOLERANCE: f64 = 1e-6;

    /// The default storm: half honest resumptions, the rest every kind of bad ticket.
    pub const DEFAULT_STORM: &'static str = "valid=0.5,renew=0.1,expired=0.05,future=0.05,unknown_key=0.1,bad_mac=0.1,bad_padding=0.02,truncated=0.03,garbage=0.03,oversized=0.02";

    /// 100% valid tickets (the calm baseline).
    pub fn calm() -> Self {
        Self::only(Class::Valid)
    }

    /// 100% of one class.
    pub fn only(class: Class) -> Self {
        let mut fractions = [0.0; Class::COUNT];
        fractions[class.index()] = 1.0;
        Self { fractions }
    }

    /// Builds a mix from per-class fractions (checked like the parser does).
    pub fn from_fractions(fractions: [f64; Class::COUNT]) -> Result<Self, MixError> {
        for (c, f) in Class::ALL.iter().zip(fractions) {
            if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
                return Err(MixError::BadItem(format!("{c}={f}")));
            }
        }
        let sum: f64 = fractions.iter().sum();
        if (sum - 1.0).abs() > Self::SUM_TOLERANCE {
            return Err(MixError::BadSum(sum));
        }
        Ok(Self { fractions })
    }

    /// The planning mix for a storm fraction `f` in [0, 1): honest traffic split like the
    /// default storm (valid 5 : renew 1), forged traffic split like the default storm's forged
    /// part (expired 5, future 5, unknown_key 10, bad_mac 10, bad_padding 2, truncated 3,
    /// garbage 3, oversized 2). `scripts/capacity.py` builds the same mixes.
    pub fn with_storm_fraction(f: f64) -> Result<Self, MixError> {
        if !(f.is_finite() && (0.0..1.0).contains(&f)) {
            return Err(MixError::BadItem(format!("storm fraction {f}")));
        }
        let base = Self::default();
        let honest = 1.0 - base.storm_fraction();
        let storm = base.storm_fraction();
        let mut fractions = [0.0; Class::COUNT];
        for c in Class::ALL {
            let x = base.fraction(c);
            fractions[c.index()] = if c.should_resume() {
                x / honest * (1.0 - f)
            } else {
                x / storm * f
            };
        }
        Self::from_fractions(fractions)
    }

    /// Fraction of `class`.
    pub fn fraction(&self, class: Class) -> f64 {
        self.fractions[class.index()]
    }

    /// All fractions in [`Class::ALL`] order.
    pub fn fractions(&self) -> [f64; Class::COUNT] {
        self.fractions
    }

    /// Fraction of traffic that must not resume (the "storm").
    pub fn storm_fraction(&self) -> f64 {
        Class::ALL
            .iter()
            .filter(|c| !c.should_resume())
            .map(|c| self.fraction(*c))
            .sum()
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self::DEFAULT_STORM.parse().unwrap_or_else(|_| Self::calm())
    }
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fractions = [0.0; Class::COUNT];
        let mut seen = [false; Class::COUNT];
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| MixError::BadItem(item.to_owned()))?;
            let class: Class = name.trim().parse()?;
            let f: f64 = value
                .trim()
                .parse()
                .map_err(|_| MixError::BadItem(item.to_owned()))?;
            if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
                return Err(MixError::BadItem(item.to_owned()));
            }
            if seen[class.index()] {
                return Err(MixError::Duplicate(class.as_str()));
            }
            seen[class.index()] = true;
            fractions[class.index()] = f;
        }
        Self::from_fractions(fractions)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in Class::ALL {
            let x = self.fraction(c);
            if x > 0.0 {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{c}={x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let m: Mix = "valid=0.25, bad_mac=0.75".parse().unwrap();
        assert_eq!(m.fraction(Class::BadMac), 0.75);
        assert_eq!(m.to_string().parse::<Mix>().unwrap(), m);
        assert!((Mix::default().storm_fraction() - 0.4).abs() < 1e-9);
        let p = Mix::with_storm_fraction(0.4).unwrap();
        for c in Class::ALL {
            assert!((p.fraction(c) - Mix::default().fraction(c)).abs() < 1e-12);
        }
        let p = Mix::with_storm_fraction(0.9).unwrap();
        assert!((p.storm_fraction() - 0.9).abs() < 1e-9);
        assert!((p.fraction(Class::BadMac) - 0.225).abs() < 1e-9);
        assert!(Mix::with_storm_fraction(1.0).is_err());
    }

    #[test]
    fn refuses_bad_mixes() {
        assert!(matches!(
            "valid=0.5".parse::<Mix>(),
            Err(MixError::BadSum(_))
        ));
        assert!(matches!(
            "valid=0.5,nope=0.5".parse::<Mix>(),
            Err(MixError::UnknownClass(_))
        ));
        assert!(matches!(
            "valid=x".parse::<Mix>(),
            Err(MixError::BadItem(_))
        ));
        assert!(matches!("valid".parse::<Mix>(), Err(MixError::BadItem(_))));
        assert!(matches!(
            "valid=-1,bad_mac=2".parse::<Mix>(),
            Err(MixError::BadItem(_))
        ));
        assert!(matches!(
            "valid=NaN".parse::<Mix>(),
            Err(MixError::BadItem(_))
        ));
        assert!(matches!(
            "valid=0.5,valid=0.5".parse::<Mix>(),
            Err(MixError::Duplicate("valid"))
        ));
        // Within tolerance.
        assert!("valid=0.3333333,bad_mac=0.6666667".parse::<Mix>().is_ok());
    }
}
