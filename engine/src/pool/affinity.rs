//! Which core each worker asks for, and pinning the current thread to it.
//!
//! Only ids from the process's own affinity mask are ever passed to `core_affinity`: that mask
//! is what the OS will accept, and an id past the `cpu_set_t` size would make the crate index
//! out of bounds.

use super::config::Pinning;

/// Where one worker should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CoreTarget {
    /// The core id asked for, if any.
    pub(super) requested: Option<usize>,
    /// Whether that id is in this process's affinity mask (so pinning may be attempted).
    pub(super) allowed: bool,
}

/// Targets for `workers` workers. Reads the affinity mask of the calling thread: call it from
/// the thread creating the pool, before any worker is pinned.
pub(super) fn plan(pinning: &Pinning, workers: usize) -> Vec<CoreTarget> {
    let unpinned = CoreTarget {
        requested: None,
        allowed: false,
    };
    if *pinning == Pinning::None {
        return vec![unpinned; workers];
    }
    let available: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let wanted: &[usize] = match pinning {
        Pinning::Cores(list) if !list.is_empty() => list,
        _ => &available,
    };
    if wanted.is_empty() {
        return vec![unpinned; workers];
    }
    (0..workers)
        .map(|i| {
            let id = wanted[i % wanted.len()];
            CoreTarget {
                requested: Some(id),
                allowed: available.contains(&id),
            }
        })
        .collect()
}

/// Pins the calling thread to `target`. Returns whether it is now pinned.
pub(super) fn pin_current(target: CoreTarget) -> bool {
    match target.requested {
        Some(id) if target.allowed => core_affinity::set_for_current(core_affinity::CoreId { id }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_requests_nothing() {
        let t = plan(&Pinning::None, 3);
        assert_eq!(t.len(), 3);
        assert!(t.iter().all(|t| t.requested.is_none() && !pin_current(*t)));
    }

    #[test]
    fn auto_wraps_over_available_cores() {
        let available: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let t = plan(&Pinning::Auto, 5);
        assert_eq!(t.len(), 5);
        for (i, target) in t.iter().enumerate() {
            if available.is_empty() {
                assert_eq!(target.requested, None);
            } else {
                assert_eq!(target.requested, Some(available[i % available.len()]));
                assert!(target.allowed);
            }
        }
    }

    #[test]
    fn unknown_core_is_not_allowed_and_not_pinned() {
        // Far past any cpu_set_t: must neither panic nor pin.
        let t = plan(&Pinning::Cores(vec![1 << 20]), 2);
        assert_eq!(t[0].requested, Some(1 << 20));
        assert!(!t[0].allowed);
        assert!(!pin_current(t[0]));
    }

    #[test]
    fn empty_core_list_means_auto() {
        assert_eq!(
            plan(&Pinning::Cores(Vec::new()), 2),
            plan(&Pinning::Auto, 2)
        );
    }
}
