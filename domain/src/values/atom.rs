//! [`Atom`]: a string of the network's vocabulary (site, need code, language,
//! region, postal code, a suggestion's reason codes, actor subject) kept once
//! for the life of the process.
//!
//! A read model holds these values a million times over (every need case names
//! its need, every recipient profile its site, language, region and postal
//! code) while only a few thousand distinct ones exist. An atom is one pointer
//! (8 bytes instead of a 24-byte inline string), compares equal by address and
//! is copied for free. The price: a distinct value, once seen, is never freed.
//! What can be interned is bounded by the validation of each type (the postal
//! codes of five countries, 2–32-character site ids, catalogue codes, language
//! tags of language and region, reason codes of the matcher's or of the API's
//! `reason_code_ok` form) and, for actor subjects, by the accounts that write;
//! every such value is in the event log anyway.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{OnceLock, PoisonError, RwLock};

/// An interned string (see the module's documentation). A reference to a
/// `Box<str>`, not a `&str`: a thin pointer (8 bytes, `Option<Atom>` too)
/// where a `&str` would be 16.
#[allow(clippy::borrowed_box)]
#[derive(Clone, Copy)]
pub struct Atom(&'static Box<str>);

fn table() -> &'static RwLock<HashMap<&'static str, Atom>> {
    static TABLE: OnceLock<RwLock<HashMap<&'static str, Atom>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// FNV-1a, for the per-thread cache of short strings (the shared table keeps
/// the standard library's keyed hash).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Atoms a thread has asked for lately: the shared table's lock is taken only
/// for the first sight of a string on a thread (two threads decoding a
/// checkpoint bounced the lock's cache line between them for every string).
/// Bounded (emptied when full): a server's blocking pool may run hundreds of
/// threads, each with its own cache.
const CACHE_MAX: usize = 1024;
type Cache = HashMap<&'static str, Atom, std::hash::BuildHasherDefault<Fnv>>;
thread_local! {
    static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::default());
}

impl Atom {
    /// The atom for `s`: the one already made for an equal string, or a new one.
    pub fn new(s: &str) -> Atom {
        let cached = CACHE
            .try_with(|c| c.borrow().get(s).copied())
            .ok()
            .flatten();
        if let Some(a) = cached {
            return a;
        }
        let a = Atom::shared(s);
        let _ = CACHE.try_with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(a.as_str(), a);
        });
        a
    }

    /// The atom for `s` from the table every thread shares.
    fn shared(s: &str) -> Atom {
        if let Some(a) = table()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(s)
        {
            return *a;
        }
        let mut t = table().write().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = t.get(s) {
            return *a;
        }
        #[allow(clippy::borrowed_box)] // a thin pointer: see `Atom`
        let kept: &'static Box<str> = Box::leak(Box::new(Box::from(s)));
        let a = Atom(kept);
        t.insert(kept, a);
        a
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Atom {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl Default for Atom {
    fn default() -> Self {
        Atom::new("")
    }
}

impl PartialEq for Atom {
    /// Equal strings are one atom: the addresses say it.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for Atom {}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Atom {
    /// As the string hashes (so a map keyed by atoms orders and finds as one
    /// keyed by strings would).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Atom {
    /// By the strings, not the addresses.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self == other {
            std::cmp::Ordering::Equal
        } else {
            self.as_str().cmp(other.as_str())
        }
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Atom::new(s)
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Self {
        Atom::new(&s)
    }
}

impl serde::Serialize for Atom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Atom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Atom;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Atom, E> {
                Ok(Atom::new(s))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::Atom;

    #[test]
    fn equal_strings_are_one_atom_and_atoms_order_by_their_strings() {
        let a = Atom::new("be-leuven");
        let b = Atom::new(&String::from("be-leuven"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, b);
        assert_ne!(a, Atom::new("be-liege"));
        // Made in the other order, ordered by the strings all the same.
        let z = Atom::new("zz-atom-order");
        let y = Atom::new("yy-atom-order");
        assert!(y < z && Atom::new("be-liege") > a);
        assert_eq!(std::mem::size_of::<Atom>(), 8);
        assert_eq!(std::mem::size_of::<Option<Atom>>(), 8);
    }

    #[test]
    fn a_thread_whose_cache_filled_up_and_other_threads_get_the_same_atoms() {
        let early = Atom::new("cache-test-0");
        for i in 0..super::CACHE_MAX * 2 + 3 {
            Atom::new(&format!("cache-test-{i}"));
        }
        // The first ones fell out of this thread's cache: found in the shared table.
        assert!(std::ptr::eq(
            Atom::new("cache-test-0").as_str(),
            early.as_str()
        ));
        let elsewhere = std::thread::spawn(|| Atom::new("cache-test-7").as_str())
            .join()
            .unwrap();
        assert!(std::ptr::eq(elsewhere, Atom::new("cache-test-7").as_str()));
        super::CACHE.with(|c| assert!(c.borrow().len() <= super::CACHE_MAX));
    }

    #[test]
    fn an_atom_hashes_as_its_string_and_reads_back_through_serde() {
        use std::hash::BuildHasher;
        let h = std::collections::hash_map::RandomState::new();
        assert_eq!(h.hash_one(Atom::new("nl")), h.hash_one("nl"));
        let json = serde_json::to_string(&Atom::new("fr-BE")).unwrap();
        assert_eq!(json, "\"fr-BE\"");
        let back: Atom = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Atom::new("fr-BE"));
        let owned: Atom = serde_json::from_reader(json.as_bytes()).unwrap();
        assert_eq!(owned, back);
        assert_eq!(format!("{back:?}"), "\"fr-BE\"");
    }
}
