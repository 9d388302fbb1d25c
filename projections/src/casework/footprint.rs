//! What each part of the read models holds in memory, for the `memory_1m`
//! benchmark: the model is dropped part by part and the caller, whose allocator
//! counts, reads how much each drop gave back.

use super::Casework;

impl Casework {
    /// After a checkpoint is loaded: gives back the room the recipients' and
    /// the notes' lists were read with (room for four where one is kept). The
    /// need cases were compacted, and pointed at their recipient's profile
    /// (each need case's copy is read on its own), as their sections were
    /// decoded (`checkpoint::read`, on two threads).
    pub(super) fn compact_after_load(&mut self) {
        for r in self.recipients.values_mut() {
            r.need_cases.shrink_to_fit();
        }
        for notes in self.notes.values_mut() {
            notes.shrink_to_fit();
        }
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
