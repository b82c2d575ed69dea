//! `loadgen capacity`. Placeholder until written.
use serde_json::Value;

use crate::LoadgenError;
use crate::cli::CapacityArgs;

/// Runs the calibration (see the module doc).
pub fn run(_args: &CapacityArgs) -> Result<Value, LoadgenError> {
    Err(LoadgenError::Runtime(
        "capacity: not in this build yet".into(),
    ))
}
