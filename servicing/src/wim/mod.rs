//! Safe layer over wimlib.
