//! The values a site statement binds and reads, the same for every backend: an integer, a text or
//! NULL. Booleans are stored as 0/1 and sizes as signed 64-bit integers, so one schema and one set
//! of statements serve SQLite and PostgreSQL alike.

/// One bound parameter or one column of a result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (booleans are 0 and 1).
    Int(i64),
    /// A text.
    Text(String),
}

/// A Rust value a statement can bind.
pub trait ToValue {
    /// The stored form.
    fn to_value(&self) -> Value;
}

/// A Rust value a result column can be read as; `Err` says why not.
pub trait FromValue: Sized {
    /// Reads the stored form.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        // Sizes and byte counts; a file of 2^63 bytes does not exist.
        Value::Int(*self as i64)
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for std::borrow::Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> Result<Self, String> {
        let i = i64::from_value(value)?;
        u32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(i64::from_value(value)? as u64)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected a text, found {other:?}")),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `index` (0-based) as `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, super::SqlError> {
        let value = self.0.get(index).ok_or(super::SqlError::Column { index, reason: "no such column".into() })?;
        T::from_value(value).map_err(|reason| super::SqlError::Column { index, reason })
    }
}

/// The parameters of a statement, `?1` … in order: `args![a, b]` binds `a` as `?1` and `b` as `?2`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::site::store::value::ToValue::to_value(&$v)),*][..]
    };
}
pub(crate) use args;
