//! Typed Rust values <-> [`Value`] through serde.
//!
//! [`to_value`] maps integers up to 64 bits to int64 (a `u64` above `i64::MAX` is an error), floats to float64,
//! byte buffers (`serialize_bytes`) to bytes, `None`/`()`/unit structs to null, sequences and tuples to arrays,
//! maps (string keys only) and structs to objects, and enum variants like serde_json does: a unit variant is its
//! name, other variants `{variant: content}`.
//!
//! [`from_value`] reads those back, and is lenient where JavaScript clients force it: an integer field accepts a
//! float64 holding an exact integer (JS numbers are float64), and a float field accepts an int64. Errors name the
//! place in the value: `invalid type: string "x", expected i64 at .user.age`.
//!
//! `Value` itself implements `Serialize`/`Deserialize` in the plain serde data model (int64 is an integer, bytes
//! are bytes), which round-trips through [`to_value`]/[`from_value`]. That is not Convex JSON: for the wire use
//! [`crate::json`].

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Unexpected, Visitor};
use serde::ser::{self, Impossible, Serialize};

use crate::value::field_segment;
use crate::{Object, Value, ValueError};

/// Converts a typed value into a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(t: &T) -> Result<Value, ValueError> {
    t.serialize(ValueSerializer).map_err(BridgeError::into_value_error)
}

/// Converts a [`Value`] into a typed value.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, ValueError> {
    T::deserialize(ValueDeserializer(v)).map_err(BridgeError::into_value_error)
}

/// The error inside the bridge: a message and the path to where it happened, innermost segment first.
#[derive(Debug)]
struct BridgeError {
    reversed_path: Vec<String>,
    message: String,
}

impl BridgeError {
    fn new(message: String) -> Self {
        BridgeError { reversed_path: Vec::new(), message }
    }

    fn at_field(mut self, name: &str) -> Self {
        self.reversed_path.push(field_segment(name));
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.reversed_path.push(format!("[{index}]"));
        self
    }

    fn into_value_error(self) -> ValueError {
        if self.reversed_path.is_empty() {
            return ValueError::Conversion(self.message);
        }
        let path: String = self.reversed_path.into_iter().rev().collect();
        ValueError::Conversion(format!("{} at {path}", self.message))
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BridgeError {}

impl ser::Error for BridgeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BridgeError::new(msg.to_string())
    }
}

impl de::Error for BridgeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BridgeError::new(msg.to_string())
    }
}

/// Lets `ValueError` travel through other serializers and deserializers too.
impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Conversion(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Conversion(msg.to_string())
    }
}

fn int64_from<T: TryInto<i64> + fmt::Display + Copy>(v: T) -> Result<Value, BridgeError> {
    v.try_into().map(Value::Int64).map_err(|_| BridgeError::new(format!("integer {v} does not fit in int64")))
}

// ---------------------------------------------------------------------------------------------------------------
// Serializer

struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = BridgeError;
    type SerializeSeq = ArrayBuilder;
    type SerializeTuple = ArrayBuilder;
    type SerializeTupleStruct = ArrayBuilder;
    type SerializeTupleVariant = VariantArrayBuilder;
    type SerializeMap = ObjectBuilder;
    type SerializeStruct = ObjectBuilder;
    type SerializeStructVariant = VariantObjectBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, BridgeError> {
        Ok(Value::Boolean(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, BridgeError> {
        int64_from(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, BridgeError> {
        Ok(Value::Int64(v.into()))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, BridgeError> {
        int64_from(v)
    }

    fn serialize_u128(self, v: u128) -> Result<Value, BridgeError> {
        int64_from(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, BridgeError> {
        Ok(Value::Float64(v.into()))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, BridgeError> {
        Ok(Value::Float64(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, BridgeError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, BridgeError> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, BridgeError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, BridgeError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, BridgeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, BridgeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, BridgeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, BridgeError> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, BridgeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, BridgeError> {
        let content = value.serialize(ValueSerializer).map_err(|e| e.at_field(variant))?;
        Ok(single_field(variant, content))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ArrayBuilder, BridgeError> {
        Ok(ArrayBuilder { items: Vec::with_capacity(len.unwrap_or(0)) })
    }

    fn serialize_tuple(self, len: usize) -> Result<ArrayBuilder, BridgeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<ArrayBuilder, BridgeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantArrayBuilder, BridgeError> {
        Ok(VariantArrayBuilder { variant, array: ArrayBuilder { items: Vec::with_capacity(len) } })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<ObjectBuilder, BridgeError> {
        Ok(ObjectBuilder::default())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<ObjectBuilder, BridgeError> {
        Ok(ObjectBuilder::default())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantObjectBuilder, BridgeError> {
        Ok(VariantObjectBuilder { variant, object: ObjectBuilder::default() })
    }
}

fn single_field(name: &str, content: Value) -> Value {
    let mut fields = Object::new();
    fields.insert(name.to_owned(), content);
    Value::Object(fields)
}

struct ArrayBuilder {
    items: Vec<Value>,
}

impl ArrayBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        let index = self.items.len();
        let item = value.serialize(ValueSerializer).map_err(|e| e.at_index(index))?;
        self.items.push(item);
        Ok(())
    }
}

impl ser::SerializeSeq for ArrayBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTuple for ArrayBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTupleStruct for ArrayBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Array(self.items))
    }
}

struct VariantArrayBuilder {
    variant: &'static str,
    array: ArrayBuilder,
}

impl ser::SerializeTupleVariant for VariantArrayBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        self.array.push(value).map_err(|e| e.at_field(self.variant))
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(single_field(self.variant, Value::Array(self.array.items)))
    }
}

#[derive(Default)]
struct ObjectBuilder {
    fields: Object,
    next_key: Option<String>,
}

impl ObjectBuilder {
    fn insert<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), BridgeError> {
        let value = value.serialize(ValueSerializer).map_err(|e| e.at_field(&key))?;
        self.fields.insert(key, value);
        Ok(())
    }
}

impl ser::SerializeMap for ObjectBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), BridgeError> {
        self.next_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), BridgeError> {
        let key = self.next_key.take().ok_or_else(|| BridgeError::new("map value serialized before its key".into()))?;
        self.insert(key, value)
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Object(self.fields))
    }
}

impl ser::SerializeStruct for ObjectBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), BridgeError> {
        self.insert(key.to_owned(), value)
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Object(self.fields))
    }
}

struct VariantObjectBuilder {
    variant: &'static str,
    object: ObjectBuilder,
}

impl ser::SerializeStructVariant for VariantObjectBuilder {
    type Ok = Value;
    type Error = BridgeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), BridgeError> {
        self.object.insert(key.to_owned(), value).map_err(|e| e.at_field(self.variant))
    }

    fn end(self) -> Result<Value, BridgeError> {
        Ok(single_field(self.variant, Value::Object(self.object.fields)))
    }
}

/// Serializes map keys, which must be strings (or chars, unit variants, newtypes around strings).
struct KeySerializer;

fn key_error(found: &str) -> BridgeError {
    BridgeError::new(format!("map keys must be strings, found {found}"))
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = BridgeError;
    type SerializeSeq = Impossible<String, BridgeError>;
    type SerializeTuple = Impossible<String, BridgeError>;
    type SerializeTupleStruct = Impossible<String, BridgeError>;
    type SerializeTupleVariant = Impossible<String, BridgeError>;
    type SerializeMap = Impossible<String, BridgeError>;
    type SerializeStruct = Impossible<String, BridgeError>;
    type SerializeStructVariant = Impossible<String, BridgeError>;

    fn serialize_str(self, v: &str) -> Result<String, BridgeError> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, BridgeError> {
        Ok(v.to_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, BridgeError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, BridgeError> {
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<String, BridgeError> {
        Err(key_error("a boolean"))
    }

    fn serialize_i8(self, _v: i8) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_i16(self, _v: i16) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_i32(self, _v: i32) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_i64(self, _v: i64) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_u8(self, _v: u8) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_u16(self, _v: u16) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_u32(self, _v: u32) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_u64(self, _v: u64) -> Result<String, BridgeError> {
        Err(key_error("an integer"))
    }

    fn serialize_f32(self, _v: f32) -> Result<String, BridgeError> {
        Err(key_error("a float"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, BridgeError> {
        Err(key_error("a float"))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, BridgeError> {
        Err(key_error("bytes"))
    }

    fn serialize_none(self) -> Result<String, BridgeError> {
        Err(key_error("none"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, BridgeError> {
        Err(key_error("an option"))
    }

    fn serialize_unit(self) -> Result<String, BridgeError> {
        Err(key_error("unit"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, BridgeError> {
        Err(key_error("a unit struct"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, BridgeError> {
        Err(key_error("an enum variant with content"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, BridgeError> {
        Err(key_error("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, BridgeError> {
        Err(key_error("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, BridgeError> {
        Err(key_error("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, BridgeError> {
        Err(key_error("an enum variant with content"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, BridgeError> {
        Err(key_error("a map"))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, BridgeError> {
        Err(key_error("a struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, BridgeError> {
        Err(key_error("an enum variant with content"))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Deserializer

/// A [`serde::Deserializer`] over an owned [`Value`].
struct ValueDeserializer(Value);

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Int64(i) => Unexpected::Signed(*i),
        Value::Float64(f) => Unexpected::Float(*f),
        Value::Boolean(b) => Unexpected::Bool(*b),
        Value::String(s) => Unexpected::Str(s),
        Value::Bytes(b) => Unexpected::Bytes(b),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// 2^63 and 2^64 as floats: the bounds of exact conversions to i64 and u64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

impl ValueDeserializer {
    /// Integers: int64, or a float64 holding an exact integer (what JavaScript clients send).
    fn deserialize_integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::Float64(f) if f.fract() == 0.0 => {
                if (-TWO_POW_63..TWO_POW_63).contains(&f) {
                    visitor.visit_i64(f as i64)
                } else if (0.0..TWO_POW_64).contains(&f) {
                    visitor.visit_u64(f as u64)
                } else {
                    visitor.visit_f64(f)
                }
            }
            other => ValueDeserializer(other).deserialize_any_value(visitor),
        }
    }

    fn deserialize_any_value<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Int64(i) => visitor.visit_i64(i),
            Value::Float64(f) => visitor.visit_f64(f),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::String(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(fields) => visit_object(fields, visitor),
        }
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, BridgeError> {
    let len = items.len();
    let mut access = ArrayAccess { items: items.into_iter(), index: 0 };
    let out = visitor.visit_seq(&mut access)?;
    if access.items.len() != 0 {
        return Err(de::Error::invalid_length(len, &"fewer elements in the array"));
    }
    Ok(out)
}

fn visit_object<'de, V: Visitor<'de>>(fields: Object, visitor: V) -> Result<V::Value, BridgeError> {
    let len = fields.len();
    let mut access = ObjectAccess { fields: fields.into_iter(), pending: None };
    let out = visitor.visit_map(&mut access)?;
    if access.fields.len() != 0 {
        return Err(de::Error::invalid_length(len, &"fewer fields in the object"));
    }
    Ok(out)
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = BridgeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_any_value(visitor)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::Int64(i) => visitor.visit_f64(i as f64),
            other => ValueDeserializer(other).deserialize_any_value(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(ValueDeserializer(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::Bytes(bytes) => {
                let mut access = de::value::SeqDeserializer::new(bytes.into_iter());
                let out = visitor.visit_seq(&mut access)?;
                access.end()?;
                Ok(out)
            }
            other => ValueDeserializer(other).deserialize_any_value(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(EnumAccess { variant, content: None }),
            Value::Object(fields) if fields.len() == 1 => match fields.into_iter().next() {
                Some((variant, content)) => visitor.visit_enum(EnumAccess { variant, content: Some(content) }),
                None => Err(BridgeError::new("empty enum object".into())),
            },
            other => Err(de::Error::invalid_type(unexpected(&other), &"a variant name or an object with one field")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool char str string bytes byte_buf unit unit_struct map struct identifier
    }
}

struct ArrayAccess {
    items: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for ArrayAccess {
    type Error = BridgeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, BridgeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer(item)).map(Some).map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct ObjectAccess {
    fields: std::collections::btree_map::IntoIter<String, Value>,
    pending: Option<(String, Value)>,
}

impl<'de> de::MapAccess<'de> for ObjectAccess {
    type Error = BridgeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, BridgeError> {
        let Some((key, value)) = self.fields.next() else {
            return Ok(None);
        };
        let out = seed.deserialize(key.as_str().into_deserializer())?;
        self.pending = Some((key, value));
        Ok(Some(out))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, BridgeError> {
        let (key, value) =
            self.pending.take().ok_or_else(|| BridgeError::new("object value read before its key".into()))?;
        seed.deserialize(ValueDeserializer(value)).map_err(|e| e.at_field(&key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

struct EnumAccess {
    variant: String,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = BridgeError;
    type Variant = VariantAccess;

    fn variant_seed<V: de::DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, VariantAccess), BridgeError> {
        let tag = seed.deserialize(self.variant.as_str().into_deserializer())?;
        Ok((tag, VariantAccess { variant: self.variant, content: self.content }))
    }
}

struct VariantAccess {
    variant: String,
    content: Option<Value>,
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = BridgeError;

    fn unit_variant(self) -> Result<(), BridgeError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, BridgeError> {
        match self.content {
            Some(content) => seed.deserialize(ValueDeserializer(content)).map_err(|e| e.at_field(&self.variant)),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"a newtype variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, BridgeError> {
        match self.content {
            Some(Value::Array(items)) => visit_array(items, visitor).map_err(|e| e.at_field(&self.variant)),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a tuple variant")),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"a tuple variant")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        match self.content {
            Some(Value::Object(fields)) => visit_object(fields, visitor).map_err(|e| e.at_field(&self.variant)),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a struct variant")),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"a struct variant")),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Value in the serde data model

impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap as _, SerializeSeq as _};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Int64(i) => serializer.serialize_i64(*i),
            Value::Float64(f) => serializer.serialize_f64(*f),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a convex value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        int64_from(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        int64_from(v).map_err(E::custom)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        int64_from(v).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        <Value as de::Deserialize>::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        <Value as de::Deserialize>::deserialize(deserializer)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Object::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests;
