//! Reading a hive: navigating keys and reading values.

use std::ffi::c_char;

use hivex_sys as sys;

use super::handle::{last_errno, Malloced};
use super::name::{names_equal, split_key_path};
use super::{Error, Hive, Node, Value, MAX_DEPTH, MAX_SUBKEYS, MAX_VALUES, MAX_VALUE_BYTES};

/// A value cell of one key.
#[derive(Clone, Copy)]
pub(super) struct ValueCell(sys::hive_value_h);

impl Hive {
    /// The name of `node` (the root key has the name given when the hive was created).
    pub fn node_name(&self, node: Node) -> Result<String, Error> {
        // SAFETY: the handle is live; libhivex validates `node` before reading the cell.
        let ptr = unsafe { sys::hivex_node_name(self.raw(), node.0) };
        // SAFETY: hivex_node_name returns a malloc'd string we now own, or null on error.
        let name = unsafe { Malloced::from_raw(ptr) };
        match name {
            // SAFETY: hivex_node_name returns a NUL-terminated string.
            Some(name) => Ok(unsafe { name.to_string_lossy() }),
            None => {
                let errno = last_errno();
                Err(Error::Call {
                    path: self.shown.clone(),
                    op: "read key name",
                    key: format!("node@{:#x}", node.0),
                    source: errno,
                })
            }
        }
    }

    /// The subkeys of `node`, in the order stored in the hive (sorted by name).
    pub fn children(&self, node: Node) -> Result<Vec<Node>, Error> {
        // SAFETY: the handle is live; libhivex validates `node` and every subkey cell it returns.
        let ptr = unsafe { sys::hivex_node_children(self.raw(), node.0) };
        // SAFETY: hivex_node_children returns a malloc'd array we now own, or null on error.
        let Some(list) = (unsafe { Malloced::from_raw(ptr) }) else {
            let errno = last_errno();
            return Err(self.call_error("list subkeys", node, errno));
        };
        // SAFETY: the array is zero-terminated.
        match unsafe { list.to_offsets(MAX_SUBKEYS) } {
            Some(offsets) => Ok(offsets.into_iter().map(Node).collect()),
            None => Err(self.invalid_data(format!("key {} has more than {MAX_SUBKEYS} subkeys", self.describe(node)))),
        }
    }

    /// The subkey of `node` called `name`, compared case-insensitively as Windows does.
    pub fn child(&self, node: Node, name: &str) -> Result<Option<Node>, Error> {
        // hivex_node_get_child cannot be used: it returns 0 both for "no such key" and for errors, and
        // errno does not tell them apart (its name recoding can leave errno set on success).
        for child in self.children(node)? {
            if names_equal(&self.node_name(child)?, name) {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    /// The parent of `node`; `None` for the root.
    pub fn parent(&self, node: Node) -> Result<Option<Node>, Error> {
        if node == self.root {
            return Ok(None);
        }
        // SAFETY: the handle is live; libhivex validates `node` and the parent offset it reads.
        let parent = unsafe { sys::hivex_node_parent(self.raw(), node.0) };
        if parent == 0 {
            let errno = last_errno();
            return Err(Error::Call {
                path: self.shown.clone(),
                op: "find parent key",
                key: format!("node@{:#x}", node.0),
                source: errno,
            });
        }
        Ok(Some(Node(parent)))
    }

    /// The key at `path` (`\`-separated, below the root; `""` is the root), if it exists.
    pub fn lookup(&self, path: &str) -> Result<Option<Node>, Error> {
        let parts = split_key_path(path).map_err(|what| self.invalid_input(what))?;
        let mut node = self.root;
        for part in parts {
            match self.child(node, part)? {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The key at `path`, or [`Error::NotFound`].
    pub fn require(&self, path: &str) -> Result<Node, Error> {
        self.lookup(path)?
            .ok_or_else(|| Error::NotFound { path: self.shown.clone(), key: format!("\\{}", path.trim_matches('\\')) })
    }

    /// The path of `node` from the root, with a leading backslash (`\` for the root itself).
    pub fn key_path(&self, node: Node) -> Result<String, Error> {
        let mut names = Vec::new();
        let mut current = node;
        while let Some(parent) = self.parent(current)? {
            if names.len() == MAX_DEPTH {
                return Err(self.invalid_data(format!(
                    "key node@{:#x} is nested deeper than {MAX_DEPTH} levels (or its parents form a loop)",
                    node.0
                )));
            }
            names.push(self.node_name(current)?);
            current = parent;
        }
        names.reverse();
        Ok(format!("\\{}", names.join("\\")))
    }

    /// The names of the values of `node`, in stored order; `""` is the default value.
    pub fn value_names(&self, node: Node) -> Result<Vec<String>, Error> {
        self.value_cells(node)?.into_iter().map(|cell| self.value_name(node, cell)).collect()
    }

    /// The values of `node`, in stored order.
    pub fn values(&self, node: Node) -> Result<Vec<(String, Value)>, Error> {
        self.value_cells(node)?
            .into_iter()
            .map(|cell| {
                let name = self.value_name(node, cell)?;
                let (kind, data) = self.value_data(node, cell, &name)?;
                Ok((name, Value::decode(kind, &data)))
            })
            .collect()
    }

    /// The value of `node` called `name` (case-insensitive; `""` is the default value), if present.
    pub fn value(&self, node: Node, name: &str) -> Result<Option<Value>, Error> {
        Ok(self.raw_value(node, name)?.map(|(kind, data)| Value::decode(kind, &data)))
    }

    /// The type code and raw bytes of the value called `name`, if present.
    pub fn raw_value(&self, node: Node, name: &str) -> Result<Option<(u32, Vec<u8>)>, Error> {
        // Not hivex_node_get_value, for the reason given in `child`.
        for cell in self.value_cells(node)? {
            let stored = self.value_name(node, cell)?;
            if names_equal(&stored, name) {
                return self.value_data(node, cell, &stored).map(Some);
            }
        }
        Ok(None)
    }

    /// Every value of `node` as `(name, type code, raw bytes)`, for rewriting a value list unchanged.
    pub(super) fn raw_values(&self, node: Node) -> Result<Vec<(String, u32, Vec<u8>)>, Error> {
        self.value_cells(node)?
            .into_iter()
            .map(|cell| {
                let name = self.value_name(node, cell)?;
                let (kind, data) = self.value_data(node, cell, &name)?;
                Ok((name, kind, data))
            })
            .collect()
    }

    fn value_cells(&self, node: Node) -> Result<Vec<ValueCell>, Error> {
        // SAFETY: the handle is live; libhivex validates `node` and the value list it reads.
        let ptr = unsafe { sys::hivex_node_values(self.raw(), node.0) };
        // SAFETY: hivex_node_values returns a malloc'd array we now own, or null on error.
        let Some(list) = (unsafe { Malloced::from_raw(ptr) }) else {
            let errno = last_errno();
            return Err(self.call_error("list values", node, errno));
        };
        // SAFETY: the array is zero-terminated.
        match unsafe { list.to_offsets(MAX_VALUES) } {
            Some(offsets) => Ok(offsets.into_iter().map(ValueCell).collect()),
            None => Err(self.invalid_data(format!("key {} has more than {MAX_VALUES} values", self.describe(node)))),
        }
    }

    fn value_name(&self, node: Node, cell: ValueCell) -> Result<String, Error> {
        // SAFETY: the handle is live; libhivex validates that `cell` is a `vk` cell.
        let ptr = unsafe { sys::hivex_value_key(self.raw(), cell.0) };
        // SAFETY: hivex_value_key returns a malloc'd string we now own, or null on error.
        match unsafe { Malloced::<c_char>::from_raw(ptr) } {
            // SAFETY: hivex_value_key returns a NUL-terminated string.
            Some(name) => Ok(unsafe { name.to_string_lossy() }),
            None => {
                let errno = last_errno();
                Err(self.call_error("read value name", node, errno))
            }
        }
    }

    fn value_data(&self, node: Node, cell: ValueCell, name: &str) -> Result<(u32, Vec<u8>), Error> {
        let mut kind: sys::hive_type = 0;
        let mut len: usize = 0;
        // Ask for the declared size first, so an oversized value is refused before anything is copied.
        // SAFETY: the handle is live, libhivex validates `cell`, and both out-pointers are valid.
        let rc = unsafe { sys::hivex_value_type(self.raw(), cell.0, &mut kind, &mut len) };
        if rc != 0 {
            let errno = last_errno();
            return Err(self.call_error("read value type", node, errno));
        }
        if len > MAX_VALUE_BYTES {
            return Err(self.invalid_data(format!(
                "value {name:?} of key {} declares {len} bytes of data, over the {MAX_VALUE_BYTES}-byte limit",
                self.describe(node)
            )));
        }
        // SAFETY: as above; libhivex bounds-checks the data cells against the hive before copying them
        // into the buffer it returns.
        let ptr = unsafe { sys::hivex_value_value(self.raw(), cell.0, &mut kind, &mut len) };
        // SAFETY: hivex_value_value returns a malloc'd buffer we now own, or null on error.
        let Some(buf) = (unsafe { Malloced::<c_char>::from_raw(ptr) }) else {
            let errno = last_errno();
            return Err(self.call_error("read value data", node, errno));
        };
        if len > MAX_VALUE_BYTES {
            return Err(self.invalid_data(format!(
                "value {name:?} of key {} holds {len} bytes of data, over the {MAX_VALUE_BYTES}-byte limit",
                self.describe(node)
            )));
        }
        // SAFETY: the buffer holds at least `len` initialised bytes: libhivex allocated the declared
        // length and reports in `len` how much of it it filled (never more than it allocated).
        let data = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) }.to_vec();
        Ok((kind, data))
    }
}
