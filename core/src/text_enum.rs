//! Enums that are stored and sent as text, declared once with their texts.

/// Declares an enum whose every variant has one text (plus, optionally, texts also accepted on
/// input), and derives from that one list:
///
/// - `as_str`, the variant's text, and [`std::fmt::Display`] showing it;
/// - `parse`, the variant a text names (`None` for any other text), for input;
/// - `from_db`, the same for a value read back from the database, where an unknown text is an
///   [`Error::Internal`](crate::Error::Internal) naming it, never a default: a row written by a
///   newer version, or damaged, must not be read as something else (an unknown purchase status
///   as `failed`, an unknown currency as yuan);
/// - `ALL`, every variant in declaration order.
///
/// ```
/// apinfer_core::text_enum! {
///     /// A colour.
///     #[derive(Default)]
///     pub enum Colour {
///         #[default]
///         Red = "red",
///         Grey = "grey" | "gray",
///     }
/// }
/// assert_eq!(Colour::parse("gray"), Some(Colour::Grey));
/// assert_eq!(Colour::Grey.as_str(), "grey");
/// assert!(Colour::from_db("blue").is_err());
/// ```
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// This variant's text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The variant `text` names, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $( $text $(| $alias)* => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// A value read from the database: an unknown text is an error, never a default.
            pub fn from_db(text: &str) -> $crate::Result<Self> {
                Self::parse(text).ok_or_else(|| {
                    $crate::Error::Internal($crate::__anyhow!(
                        "unknown {} {:?} read from the database",
                        stringify!($name),
                        text
                    ))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[doc(hidden)]
pub use anyhow::anyhow as __anyhow;

#[cfg(test)]
mod tests {
    crate::text_enum! {
        enum Sample {
            One = "one",
            Two = "two" | "deux",
        }
    }

    #[test]
    fn texts_round_trip_and_unknown_values_are_errors() {
        for value in Sample::ALL {
            assert_eq!(Sample::parse(value.as_str()), Some(*value));
            assert_eq!(Sample::from_db(&value.to_string()).unwrap(), *value);
        }
        assert_eq!(Sample::parse("deux"), Some(Sample::Two));
        assert_eq!(Sample::Two.as_str(), "two");
        let error = Sample::from_db("three").unwrap_err();
        assert!(matches!(error, crate::Error::Internal(_)));
        assert!(format!("{error:?}").contains("unknown Sample \"three\""), "{error:?}");
    }
}
