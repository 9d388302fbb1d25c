//! What each part of the read models holds in memory, for the `memory_1m`
//! benchmark: the model is dropped part by part and the caller, whose allocator
//! counts, reads how much each drop gave back.

use super::Casework;

impl Casework {
    /// After a checkpoint is loaded: gives back the room the notes' lists
    /// were read with (room for four where one is kept). The
    /// need cases were compacted, and pointed at their recipient's profile
    /// (each need case's copy is read on its own), as their sections were
    /// decoded (`checkpoint::read`, on two threads).
    pub(super) fn compact_after_load(&mut self) {
        for notes in self.notes.values_mut() {
            notes.shrink_to_fit();
        }
        // The need cases' index was built whole from their sorted sections;
        // the unfinished set was read one id at a time.
        self.open = std::mem::take(&mut self.open).into_iter().collect();
    }

    /// Rebuilds the ordered indexes — the need cases by id and the set of
    /// unfinished ones — with full nodes; what they hold is unchanged. A B-tree
    /// filled in ascending order (UUIDv7 ids arrive in order) splits each full
    /// node in two and never fills the left half again, so after a cold fold
    /// its nodes are ~55% full (~48 bytes an entry of the need cases' index
    /// instead of ~26), and removals from the unfinished set thin it further.
    /// Built from sorted entries, every node but the right edge is full. Run
    /// once a cold start has caught up ([`crate::runner::Projector::compact_if_grown`];
    /// a checkpoint's need cases are read whole, and its unfinished set is
    /// rebuilt as it is loaded): O(n), ~0.1 s at a million need cases.
    pub fn compact_indexes(&mut self) {
        self.need_cases = std::mem::take(&mut self.need_cases).into_iter().collect();
        self.open = std::mem::take(&mut self.open).into_iter().collect();
    }

    /// Drops the model a part at a time, calling `dropped(part)` right after
    /// each part is gone. The parts, in order: the equity cube, the FHIR
    /// per-referral log facts, the actor subjects kept per need case, the
    /// need-case views (the domain's state with the recipient's profile, the
    /// suggestions and the referrals), the set of unfinished need cases, the
    /// care recipients, the service directory, notes, and the rest (API keys,
    /// webhook subscriptions).
    pub fn drop_in_parts(self, mut dropped: impl FnMut(&'static str)) {
        let Casework {
            position: _,
            mut need_cases,
            recipients,
            open,
            directory,
            equity,
            api_keys,
            notes,
            webhooks,
        } = self;
        drop(equity);
        dropped("equity cube");
        for v in need_cases.values_mut() {
            v.referral_log = Box::default();
        }
        dropped("need cases: FHIR referral log facts");
        for v in need_cases.values_mut() {
            v.identified_by = Default::default();
            v.referred_by = None;
        }
        dropped("need cases: actor subjects");
        drop(need_cases);
        dropped("need cases: views (state, profile, suggestions, referrals) and index");
        drop(open);
        dropped("unfinished need cases");
        drop(recipients);
        dropped("care recipients");
        drop(directory);
        dropped("service directory");
        drop(notes);
        dropped("notes");
        drop((api_keys, webhooks));
        dropped("API keys and webhook subscriptions");
    }
}
