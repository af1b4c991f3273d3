//! Tests of the safe hivex layer.
