//! Safe layer over libhivex: open, read, write and commit Windows registry hives (regf).
