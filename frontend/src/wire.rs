//! Reads the wire types (`sendguard-common`, serde) from JS values: what the browser's own JSON
//! parser returns (`Response.json()`, `JSON.parse`), so that the page carries no JSON parser.
//!
//! A small serde `Deserializer` over a `JsValue`, written for the size of the page: serde_json
//! compiled its parser into every wire type's deserializer (about 12 KB of the bundle, gzip),
//! and serde-wasm-bindgen's errors name the unexpected value, which links the float formatting
//! of `core` (another 4 KB). Errors here say what was expected and where it was missing
//! ("missing field `domain`", "invalid type, expected a string"), not the value that was found.
//!
//! What it reads is JSON's data model (RFC 8259) as serde_json writes it: objects, arrays,
//! strings, numbers (integers up to 2^53, as JavaScript holds them exactly), booleans and null;
//! enums externally tagged (`"variant"` or `{"variant": {...}}`), `null` for `None`.

use std::fmt;

use js_sys::{Array, Object, Reflect};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use wasm_bindgen::{JsCast, JsValue};

/// Why a JS value is not the wire type asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }

    // The two below leave out the value that was found: naming it would link float formatting.
    fn invalid_type(_found: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error(format!("invalid type, expected {expected}"))
    }

    fn invalid_value(_found: de::Unexpected, expected: &dyn de::Expected) -> Self {
        Error(format!("invalid value, expected {expected}"))
    }
}

/// Reads a `T` from a JS value such as `JSON.parse` returns.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, Error> {
    T::deserialize(Value(value))
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JS value being read.
struct Value(JsValue);

impl Value {
    fn is_nullish(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    /// The value as an object that is not an array.
    fn object(self) -> Option<Object> {
        (self.0.is_object() && !Array::is_array(&self.0)).then(|| self.0.unchecked_into())
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let v = self.0;
        if v.is_null() || v.is_undefined() {
            visitor.visit_unit()
        } else if let Some(b) = v.as_bool() {
            visitor.visit_bool(b)
        } else if let Some(n) = v.as_f64() {
            if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
                visitor.visit_i64(n as i64)
            } else {
                visitor.visit_f64(n)
            }
        } else if let Some(s) = v.as_string() {
            visitor.visit_string(s)
        } else if Array::is_array(&v) {
            visitor.visit_seq(Elements::new(v.unchecked_into()))
        } else if v.is_object() {
            visitor.visit_map(Entries::new(Object::entries(v.unchecked_ref())))
        } else {
            Err(Error("a value JSON does not have".into()))
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.is_nullish() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if Array::is_array(&self.0) {
            visitor.visit_seq(Elements::new(self.0.unchecked_into()))
        } else {
            Err(de::Error::invalid_type(
                de::Unexpected::Other("?"),
                &visitor,
            ))
        }
    }

    /// Asks the object for each field the type knows, in the type's order; others are ignored.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.object() {
            Some(object) => visitor.visit_map(Fields {
                object,
                fields,
                next: 0,
                value: None,
            }),
            None => Err(de::Error::invalid_type(
                de::Unexpected::Other("?"),
                &visitor,
            )),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(tag) = self.0.as_string() {
            return visitor.visit_enum(Variant {
                tag,
                payload: JsValue::UNDEFINED,
            });
        }
        let entries = match self.object() {
            Some(object) => Object::entries(&object),
            None => {
                return Err(de::Error::invalid_type(
                    de::Unexpected::Other("?"),
                    &visitor,
                ));
            }
        };
        if entries.length() != 1 {
            return Err(Error("an enum object has exactly one key".into()));
        }
        let pair: Array = entries.get(0).unchecked_into();
        visitor.visit_enum(Variant {
            tag: pair.get(0).as_string().unwrap_or_default(),
            payload: pair.get(1),
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct map identifier
    }
}

/// The elements of an array.
struct Elements {
    array: Array,
    next: u32,
}

impl Elements {
    fn new(array: Array) -> Self {
        Elements { array, next: 0 }
    }
}

impl<'de> SeqAccess<'de> for Elements {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.next >= self.array.length() {
            return Ok(None);
        }
        let element = self.array.get(self.next);
        self.next += 1;
        seed.deserialize(Value(element)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.array.length().saturating_sub(self.next) as usize)
    }
}

/// The `[key, value]` pairs of an object (`Object.entries`), for maps.
struct Entries {
    inner: Elements,
    value: Option<JsValue>,
}

impl Entries {
    fn new(entries: Array) -> Self {
        Entries {
            inner: Elements::new(entries),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.inner.next >= self.inner.array.length() {
            return Ok(None);
        }
        let pair: Array = self.inner.array.get(self.inner.next).unchecked_into();
        self.inner.next += 1;
        self.value = Some(pair.get(1));
        seed.deserialize(Value(pair.get(0))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(Value(self.value.take().unwrap_or(JsValue::UNDEFINED)))
    }
}

/// The known fields of a struct, looked up by name; absent ones are left to serde (`None`, a
/// `#[serde(default)]`, or "missing field").
struct Fields {
    object: Object,
    fields: &'static [&'static str],
    next: usize,
    value: Option<JsValue>,
}

impl Fields {
    /// The index of the next field the object has, its value kept for `next_value_seed`.
    fn next_present(&mut self) -> Option<u64> {
        while let Some(field) = self.fields.get(self.next) {
            let index = self.next;
            self.next += 1;
            let value =
                Reflect::get(&self.object, &JsValue::from_str(field)).unwrap_or(JsValue::UNDEFINED);
            if !value.is_undefined() {
                self.value = Some(value);
                return Some(index as u64);
            }
        }
        None
    }
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    /// The field is named by its index in the type's field list, which serde's derived field
    /// visitors accept as well as the name: one integer match per type instead of comparing
    /// strings, and the lookup itself is not generic.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.next_present() {
            Some(index) => seed.deserialize(index.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(Value(self.value.take().unwrap_or(JsValue::UNDEFINED)))
    }
}

/// An enum's variant: its name, and its content (`undefined` for a unit variant).
struct Variant {
    tag: String,
    payload: JsValue,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Value;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Value), Error> {
        let tag = seed.deserialize(self.tag.into_deserializer())?;
        Ok((tag, Value(self.payload)))
    }
}

impl<'de> VariantAccess<'de> for Value {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
