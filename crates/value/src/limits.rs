//! Size, depth and field-name rules for values and stored documents.
//!
//! Depth counts containers: a scalar has depth 0, an array or object one more than its deepest child. So a value
//! may hold 64 nested arrays/objects and a stored document (itself an object, depth 1) 15 more levels below it.

use std::fmt::Write as _;

use crate::{Object, Value, ValueError};

/// Largest stored document, in [`size_of`] bytes.
pub const MAX_DOCUMENT_SIZE: usize = 1 << 20;
/// Deepest nesting of a stored document (the document object counts as one level).
pub const MAX_DOCUMENT_DEPTH: usize = 16;
/// Deepest nesting of any value (arguments, results, values inside documents).
pub const MAX_VALUE_DEPTH: usize = 64;
/// Most fields in one object.
pub const MAX_OBJECT_FIELDS: usize = 1024;
/// Most elements in one array.
pub const MAX_ARRAY_LEN: usize = 8192;
/// Longest field name, in characters (field names are ASCII, so also bytes).
pub const MAX_FIELD_NAME_LEN: usize = 1024;
/// Largest value (function arguments and results), in [`size_of`] bytes.
pub const MAX_VALUE_SIZE: usize = 16 << 20;

/// Checks a field name of any object: non-empty, at most [`MAX_FIELD_NAME_LEN`] characters, only printable ASCII
/// (0x20–0x7E), not starting with `$`.
pub fn check_field_name(name: &str) -> Result<(), ValueError> {
    let fail = |reason: String| Err(ValueError::FieldName { name: shorten(name), reason });
    if name.is_empty() {
        return fail("field names must not be empty".into());
    }
    if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return fail(format!("field names may only contain printable ascii characters, found {c:?}"));
    }
    if name.len() > MAX_FIELD_NAME_LEN {
        return fail(format!("field name is {} characters, over the {MAX_FIELD_NAME_LEN}-character limit", name.len()));
    }
    if name.starts_with('$') {
        return fail("field names must not start with '$'".into());
    }
    Ok(())
}

/// Checks a top-level field name that a user writes into a stored document: the rules of [`check_field_name`], and
/// no leading `_`, which is reserved for system fields (`_id`, `_creationTime`).
pub fn check_document_field_name(name: &str) -> Result<(), ValueError> {
    check_field_name(name)?;
    if name.starts_with('_') {
        return Err(ValueError::FieldName {
            name: shorten(name),
            reason: "top-level document fields starting with '_' are reserved for system fields".into(),
        });
    }
    Ok(())
}

/// Estimated encoded size of a value: null 1, int64/float64 9, boolean 1, string and bytes length + 2,
/// array 2 + its elements, object 2 + for each field (name length + 1 + value size).
pub fn size_of(v: &Value) -> usize {
    match v {
        Value::Null | Value::Boolean(_) => 1,
        Value::Int64(_) | Value::Float64(_) => 9,
        Value::String(s) => s.len() + 2,
        Value::Bytes(b) => b.len() + 2,
        Value::Array(items) => 2 + items.iter().map(size_of).sum::<usize>(),
        Value::Object(fields) => object_size(fields),
    }
}

fn object_size(fields: &Object) -> usize {
    2 + fields.iter().map(|(k, v)| k.len() + 1 + size_of(v)).sum::<usize>()
}

/// Checks any value (function arguments, results): depth ≤ [`MAX_VALUE_DEPTH`], at most [`MAX_OBJECT_FIELDS`]
/// fields per object and [`MAX_ARRAY_LEN`] elements per array, valid field names, size ≤ [`MAX_VALUE_SIZE`].
pub fn check_value(v: &Value) -> Result<(), ValueError> {
    let mut walk = Walk { what: "value", max_depth: MAX_VALUE_DEPTH, path: Vec::new() };
    let size = walk.visit(v, 0)?;
    if size > MAX_VALUE_SIZE {
        return Err(ValueError::Limit(format!("value is {size} bytes, over the {MAX_VALUE_SIZE}-byte limit")));
    }
    Ok(())
}

/// Checks a stored document: depth ≤ [`MAX_DOCUMENT_DEPTH`], size ≤ [`MAX_DOCUMENT_SIZE`], and the per-object,
/// per-array and field-name rules of [`check_value`].
///
/// Top-level names starting with `_` are allowed here, since stored documents carry `_id` and `_creationTime`;
/// check fields written by users with [`check_document_field_name`].
pub fn check_document(v: &Object) -> Result<(), ValueError> {
    let mut walk = Walk { what: "document", max_depth: MAX_DOCUMENT_DEPTH, path: Vec::new() };
    let size = walk.visit_object(v, 1)?;
    if size > MAX_DOCUMENT_SIZE {
        return Err(ValueError::Limit(format!("document is {size} bytes, over the {MAX_DOCUMENT_SIZE}-byte limit")));
    }
    Ok(())
}

enum Segment<'a> {
    Field(&'a str),
    Index(usize),
}

/// One pass over a value that stops at the depth limit, so it never recurses deeper than `max_depth`.
struct Walk<'a> {
    what: &'static str,
    max_depth: usize,
    path: Vec<Segment<'a>>,
}

impl<'a> Walk<'a> {
    /// Checks `v`, which sits inside `depth` containers, and returns its size.
    fn visit(&mut self, v: &'a Value, depth: usize) -> Result<usize, ValueError> {
        match v {
            Value::Array(items) => {
                let depth = self.enter(depth)?;
                if items.len() > MAX_ARRAY_LEN {
                    return Err(ValueError::Limit(format!(
                        "array{} has {} elements, over the {MAX_ARRAY_LEN}-element limit",
                        self.location(),
                        items.len()
                    )));
                }
                let mut size = 2;
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Segment::Index(i));
                    size += self.visit(item, depth)?;
                    self.path.pop();
                }
                Ok(size)
            }
            Value::Object(fields) => {
                let depth = self.enter(depth)?;
                self.visit_object(fields, depth)
            }
            scalar => Ok(size_of(scalar)),
        }
    }

    /// Checks the fields of an object that sits at nesting level `depth` (already counted).
    fn visit_object(&mut self, fields: &'a Object, depth: usize) -> Result<usize, ValueError> {
        if depth > self.max_depth {
            return Err(self.too_deep());
        }
        if fields.len() > MAX_OBJECT_FIELDS {
            return Err(ValueError::Limit(format!(
                "object{} has {} fields, over the {MAX_OBJECT_FIELDS}-field limit",
                self.location(),
                fields.len()
            )));
        }
        let mut size = 2;
        for (key, value) in fields {
            check_field_name(key)?;
            self.path.push(Segment::Field(key));
            size += key.len() + 1 + self.visit(value, depth)?;
            self.path.pop();
        }
        Ok(size)
    }

    fn enter(&self, depth: usize) -> Result<usize, ValueError> {
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(self.too_deep());
        }
        Ok(depth)
    }

    fn too_deep(&self) -> ValueError {
        ValueError::Limit(format!("{} nests deeper than {} levels", self.what, self.max_depth))
    }

    /// ` at .a[2].b`, or nothing at the top.
    fn location(&self) -> String {
        if self.path.is_empty() {
            return String::new();
        }
        let mut out = String::from(" at ");
        for segment in &self.path {
            // Writing to a String cannot fail.
            let _ = match segment {
                Segment::Field(name) => write!(out, ".{name}"),
                Segment::Index(i) => write!(out, "[{i}]"),
            };
        }
        out
    }
}

/// Keeps error messages bounded when a field name is huge.
fn shorten(name: &str) -> String {
    const KEEP: usize = 64;
    match name.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
