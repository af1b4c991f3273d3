//! Changing a hive in memory: adding and deleting keys, setting and deleting values. Nothing reaches the
//! disk before [`Hive::commit`].

use std::ffi::{c_char, CString};

use hivex_sys as sys;

use super::handle::last_errno;
use super::name::{check_key_name, check_value_name, fold_name, names_equal, split_key_path};
use super::{Error, Hive, Node, Value, MAX_WRITE_VALUE_BYTES};

/// One value ready for libhivex: the name and data buffers the `hive_set_value` pointers refer to.
struct Pending {
    name: CString,
    kind: u32,
    data: Vec<u8>,
}

impl Pending {
    fn as_raw(&self) -> sys::hive_set_value {
        sys::hive_set_value {
            // libhivex declares these pointers mutable but only reads through them.
            key: self.name.as_ptr().cast_mut(),
            t: self.kind,
            len: self.data.len(),
            value: self.data.as_ptr().cast::<c_char>().cast_mut(),
        }
    }
}

impl Hive {
    /// Adds the subkey `name` to `parent` and returns it. Fails if `parent` already has a subkey of
    /// that name (compared case-insensitively).
    pub fn add_child(&mut self, parent: Node, name: &str) -> Result<Node, Error> {
        self.require_writable("add a key")?;
        check_key_name(name).map_err(|what| self.invalid_input(what))?;
        // libhivex's own duplicate check folds ASCII case only; Windows folds all of Unicode.
        if !name.is_ascii() && self.child(parent, name)?.is_some() {
            return Err(
                self.invalid_input(format!("key {} already has a subkey named {name:?}", self.describe(parent)))
            );
        }
        let c_name = CString::new(name).map_err(|_| self.invalid_input(format!("key name {name:?} contains NUL")))?;
        // SAFETY: the handle is live and writable, libhivex validates `parent` (and that its security
        // cell is an `sk` cell), and c_name is NUL-terminated and outlives the call.
        let child = unsafe { sys::hivex_node_add_child(self.raw(), parent.0, c_name.as_ptr()) };
        if child == 0 {
            let errno = last_errno();
            return Err(self.call_error("add subkey", parent, errno));
        }
        Ok(Node(child))
    }

    /// Adds the subkeys `names` to `parent` and returns them in `names`' order. Fails, adding none,
    /// if `parent` already has a subkey of one of these names or two of them are the same name.
    ///
    /// libhivex adds a subkey by scanning every existing one (decoding each name twice) and copying
    /// the list it goes into; a cumulative update records thousands of components under one key of
    /// thousands, which made that quadratic in time and in hive size. Many names at once are added
    /// by writing the hive out, adding them all with one rebuild of the parent's list
    /// ([`super::subkey_index::insert_children`]) and reloading it; a list that cannot be handled
    /// that way, or a few names, go through libhivex one at a time. Unlike the other changes, adding
    /// many names therefore writes the hive to its file (as [`Hive::commit`] would): meant for working
    /// copies, as the engine's hives are.
    pub fn add_children(&mut self, parent: Node, names: &[&str]) -> Result<Vec<Node>, Error> {
        /// Below this, one at a time costs less than writing out and reloading the hive.
        const AT_ONCE: usize = 64;
        self.require_writable("add keys")?;
        for name in names {
            check_key_name(name).map_err(|what| self.invalid_input(what))?;
        }
        let mut folded: Vec<Vec<u16>> = names.iter().map(|n| fold_name(n)).collect();
        folded.sort_unstable();
        if folded.windows(2).any(|w| w[0] == w[1]) {
            return Err(self.invalid_input(format!("the subkeys to add to {} repeat a name", self.describe(parent))));
        }
        // Node handles are file offsets, past the 4 KB base block; the raw code counts from there.
        let in_bins = parent.0.checked_sub(0x1000);
        if let Some(in_bins) = in_bins.filter(|_| names.len() >= AT_ONCE) {
            self.commit()?;
            let mut bytes = safe_fs::read_bounded(&self.path, super::MAX_HIVE_BYTES)
                .map_err(|source| Error::Open { path: self.shown.clone(), source })?;
            if let Some(added) = super::subkey_index::insert_children(&mut bytes, in_bins, names) {
                safe_fs::write_atomic(&self.path, &bytes)
                    .map_err(|source| Error::Commit { path: self.shown.clone(), source })?;
                // One copy of the hive at a time besides libhivex's: it can be large.
                drop(bytes);
                self.reload()?;
                return Ok(added.into_iter().map(|at| Node(at + 0x1000)).collect());
            }
        }
        // Checked before any is added, against the existing names read once.
        let mut existing = std::collections::HashSet::new();
        for child in self.children(parent)? {
            existing.insert(fold_name(&self.node_name(child)?));
        }
        if let Some(name) = names.iter().find(|n| existing.contains(&fold_name(n))) {
            return Err(
                self.invalid_input(format!("key {} already has a subkey named {name:?}", self.describe(parent)))
            );
        }
        let mut added = Vec::with_capacity(names.len());
        for name in names {
            added.push(self.add_child(parent, name)?);
        }
        Ok(added)
    }

    /// The key at `path` (`\`-separated, below the root), creating every missing key along it.
    pub fn ensure_path(&mut self, path: &str) -> Result<Node, Error> {
        self.require_writable("create keys")?;
        let parts = split_key_path(path).map_err(|what| self.invalid_input(what))?;
        let mut node = self.root;
        for part in parts {
            node = match self.child(node, part)? {
                Some(child) => child,
                None => self.add_child(node, part)?,
            };
        }
        Ok(node)
    }

    /// Sets the value `name` of `node` (`""` is the default value), replacing a value of the same name
    /// (compared case-insensitively) in place and keeping the other values byte for byte.
    ///
    /// Like `hivex_node_set_value`, this rewrites the key's whole value list, but it matches names as
    /// Windows does (all of Unicode, not ASCII only) and refuses, rather than silently re-stores in a form
    /// Windows misreads, a key holding a value too big for one data cell. Use [`Hive::set_values`] to
    /// write many values of one key at once.
    pub fn set_value(&mut self, node: Node, name: &str, value: &Value) -> Result<(), Error> {
        self.require_writable("set a value")?;
        let mut new = Some(self.prepare(node, name, value)?);
        let mut all = Vec::new();
        for (stored, kind, data) in self.raw_values(node)? {
            if names_equal(&stored, name) {
                // Replaced where it stood, keeping the stored spelling of the name as Windows does; a
                // (malformed) second value of the same name is dropped.
                if let Some(new) = new.take() {
                    all.push(self.pending(node, &stored, new.kind, new.data)?);
                }
                continue;
            }
            all.push(self.kept(node, &stored, kind, data)?);
        }
        all.extend(new);
        self.write_values(node, &all)
    }

    /// Replaces all values of `node` with `values`, in that order. Names must be distinct
    /// (case-insensitively).
    pub fn set_values(&mut self, node: Node, values: &[(String, Value)]) -> Result<(), Error> {
        self.require_writable("set values")?;
        for (i, (name, _)) in values.iter().enumerate() {
            if values[..i].iter().any(|(earlier, _)| names_equal(earlier, name)) {
                return Err(self.invalid_input(format!(
                    "value {name:?} appears twice in the values given for key {}",
                    self.describe(node)
                )));
            }
        }
        let pending =
            values.iter().map(|(name, value)| self.prepare(node, name, value)).collect::<Result<Vec<_>, _>>()?;
        self.write_values(node, &pending)
    }

    /// Sets each of `values` on `node` in one rewrite of its value list: a value of the same name
    /// (compared case-insensitively) is replaced where it stands, keeping its stored spelling; the
    /// others are added at the end; every other value is kept byte for byte. When a name is given
    /// twice the later one wins. Nothing is written when every value already holds exactly that type
    /// and data. Returns whether the key changed.
    pub fn merge_values(&mut self, node: Node, values: &[(String, Value)]) -> Result<bool, Error> {
        self.require_writable("set values")?;
        let mut new: Vec<Option<(String, Pending)>> = Vec::with_capacity(values.len());
        for (i, (name, value)) in values.iter().enumerate() {
            if values[i + 1..].iter().any(|(later, _)| names_equal(later, name)) {
                continue;
            }
            new.push(Some((name.clone(), self.prepare(node, name, value)?)));
        }
        let mut changed = false;
        let mut all = Vec::new();
        for (stored, kind, data) in self.raw_values(node)? {
            let slot = new.iter_mut().find(|n| n.as_ref().is_some_and(|(name, _)| names_equal(name, &stored)));
            match slot.and_then(Option::take) {
                Some((_, p)) => {
                    changed |= p.kind != kind || p.data != data;
                    all.push(self.pending(node, &stored, p.kind, p.data)?);
                }
                None => all.push(self.kept(node, &stored, kind, data)?),
            }
        }
        for (_, p) in new.into_iter().flatten() {
            changed = true;
            all.push(p);
        }
        if changed {
            self.write_values(node, &all)?;
        }
        Ok(changed)
    }

    /// Deletes the value `name` of `node`; returns whether it existed. The other values are kept
    /// byte for byte.
    pub fn delete_value(&mut self, node: Node, name: &str) -> Result<bool, Error> {
        self.require_writable("delete a value")?;
        let (kept, removed) = self.existing(node, name)?;
        if removed {
            self.write_values(node, &kept)?;
        }
        Ok(removed)
    }

    /// Deletes `node` with all its subkeys and values. The root cannot be deleted. Every [`Node`] of
    /// the deleted keys is invalid afterwards.
    pub fn delete_child(&mut self, node: Node) -> Result<(), Error> {
        self.require_writable("delete a key")?;
        if node == self.root {
            return Err(self.invalid_input("the root key cannot be deleted".into()));
        }
        // Name the key before it is gone, for the error message.
        let key = self.describe(node);
        // SAFETY: the handle is live and writable; libhivex validates `node` before walking and
        // freeing its subtree.
        let rc = unsafe { sys::hivex_node_delete_child(self.raw(), node.0) };
        if rc != 0 {
            let errno = last_errno();
            return Err(Error::Call { path: self.shown.clone(), op: "delete key", key, source: errno });
        }
        Ok(())
    }

    fn prepare(&self, node: Node, name: &str, value: &Value) -> Result<Pending, Error> {
        check_value_name(name).map_err(|what| self.invalid_input(what))?;
        let data = value.encode().map_err(|source| Error::Encode {
            path: self.shown.clone(),
            key: self.describe(node),
            name: name.to_owned(),
            source,
        })?;
        self.pending(node, name, value.kind(), data)
    }

    fn pending(&self, node: Node, name: &str, kind: u32, mut data: Vec<u8>) -> Result<Pending, Error> {
        if data.len() > MAX_WRITE_VALUE_BYTES {
            return Err(self.invalid_input(format!(
                "value {name:?} of key {} is {} bytes, over the {MAX_WRITE_VALUE_BYTES}-byte limit of a \
                 single data cell",
                self.describe(node),
                data.len()
            )));
        }
        let name = CString::new(name).map_err(|_| self.invalid_input(format!("value name {name:?} contains NUL")))?;
        // libhivex memcpy()s from the data pointer even for empty data; give it a real allocation to
        // point at rather than an empty Vec's dangling one.
        data.reserve(1);
        Ok(Pending { name, kind, data })
    }

    /// The current values of `node` as raw bytes, leaving out the one called `except`, and whether
    /// there was one to leave out.
    fn existing(&self, node: Node, except: &str) -> Result<(Vec<Pending>, bool), Error> {
        let mut removed = false;
        let mut kept = Vec::new();
        for (name, kind, data) in self.raw_values(node)? {
            if names_equal(&name, except) {
                removed = true;
                continue;
            }
            kept.push(self.kept(node, &name, kind, data)?);
        }
        Ok((kept, removed))
    }

    /// An existing value, to be written back unchanged.
    fn kept(&self, node: Node, name: &str, kind: u32, data: Vec<u8>) -> Result<Pending, Error> {
        if data.len() > MAX_WRITE_VALUE_BYTES {
            // Windows stores such values as "big data" (a `db` cell and segment list); libhivex would
            // re-store the bytes as one plain cell, which Windows then misreads as a `db` cell.
            return Err(self.invalid_input(format!(
                "key {} holds value {name:?} of {} bytes (big data); libhivex cannot rewrite it in a form \
                 Windows reads, so the values of this key cannot be changed",
                self.describe(node),
                data.len()
            )));
        }
        self.pending(node, name, kind, data)
    }

    fn write_values(&mut self, node: Node, values: &[Pending]) -> Result<(), Error> {
        let raw: Vec<sys::hive_set_value> = values.iter().map(Pending::as_raw).collect();
        // SAFETY: the handle is live and writable, libhivex validates `node`, and `raw` holds
        // `raw.len()` entries whose pointers refer into `values`, all of which outlive the call;
        // libhivex copies names and data into the hive.
        let rc = unsafe { sys::hivex_node_set_values(self.raw(), node.0, raw.len(), raw.as_ptr(), 0) };
        if rc != 0 {
            let errno = last_errno();
            return Err(self.call_error("set values", node, errno));
        }
        Ok(())
    }
}
