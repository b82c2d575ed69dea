//! `loadgen throughput`: raw seal/open speed. Placeholder until the batch API lands.
use serde_json::Value;

use crate::LoadgenError;
use crate::cli::ThroughputArgs;

/// Runs the measurement (see the module doc).
pub fn run(_args: &ThroughputArgs) -> Result<Value, LoadgenError> {
    Err(LoadgenError::Runtime(
        "throughput: not in this build yet".into(),
    ))
}
