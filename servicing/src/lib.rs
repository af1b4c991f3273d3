//! The wimpatch engine.
