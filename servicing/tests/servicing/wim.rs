//! Tests of the safe wimlib layer.
