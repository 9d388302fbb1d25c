//! The answer page's words in the four languages (fr, nl, de, en).

use careledger_domain::values::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Title,
    Intro,
    Need,
    Service,
    Status,
    ValidUntil,
    StatusRequested,
    StatusAccepted,
    StatusOnHold,
    StatusInProgress,
    StatusClosed,
    Accept,
    Reject,
    Waitlist,
    Start,
    Complete,
    Fail,
    Reason,
    Outcome,
    WaitDays,
    NoCapacity,
    NotEligible,
    OutOfArea,
    MissingInformation,
    Other,
    NeedMet,
    NeedPartlyMet,
    NeedNotMet,
    NoShow,
    Unreachable,
    Declined,
    Thanks,
    Recorded,
    Unavailable,
    Invalid,
    Expired,
    Replaced,
    Closed,
    TryLater,
    Malformed,
    NotAllowedNow,
    LanguageName,
}

/// `text` in `lang`: [en, fr, nl, de].
pub fn t(lang: Lang, text: Text) -> &'static str {
    let [en, fr, nl, de] = words(text);
    match lang {
        Lang::En => en,
        Lang::Fr => fr,
        Lang::Nl => nl,
        Lang::De => de,
    }
}

fn words(text: Text) -> [&'static str; 4] {
    use Text::*;
    match text {
        Title => [
            "Referral to answer",
            "Orientation à traiter",
            "Verwijzing te beantwoorden",
            "Zu beantwortende Überweisung",
        ],
        Intro => [
            "A care coordinator referred a person to your service. Please tell them your answer.",
            "Un·e coordinateur·rice de soins a orienté une personne vers votre service. Merci d'indiquer votre réponse.",
            "Een zorgcoördinator heeft iemand naar uw dienst verwezen. Geef alstublieft uw antwoord.",
            "Eine Pflegekoordination hat eine Person an Ihren Dienst überwiesen. Bitte teilen Sie Ihre Antwort mit.",
        ],
        Need => ["Need", "Besoin", "Behoefte", "Bedarf"],
        Service => ["Service", "Service", "Dienst", "Dienst"],
        Status => ["Status", "Statut", "Status", "Status"],
        ValidUntil => [
            "Link valid until",
            "Lien valable jusqu'au",
            "Link geldig tot",
            "Link gültig bis",
        ],
        StatusRequested => [
            "awaiting your answer",
            "en attente de votre réponse",
            "wacht op uw antwoord",
            "wartet auf Ihre Antwort",
        ],
        StatusAccepted => ["accepted", "acceptée", "aanvaard", "angenommen"],
        StatusOnHold => [
            "on the waiting list",
            "sur liste d'attente",
            "op de wachtlijst",
            "auf der Warteliste",
        ],
        StatusInProgress => ["in progress", "en cours", "lopend", "in Bearbeitung"],
        StatusClosed => ["closed", "clôturée", "afgesloten", "abgeschlossen"],
        Accept => ["Accept", "Accepter", "Aanvaarden", "Annehmen"],
        Reject => ["Decline", "Refuser", "Weigeren", "Ablehnen"],
        Waitlist => [
            "Put on the waiting list",
            "Mettre sur liste d'attente",
            "Op de wachtlijst zetten",
            "Auf die Warteliste setzen",
        ],
        Start => [
            "Care has started",
            "La prise en charge a commencé",
            "De begeleiding is gestart",
            "Die Betreuung hat begonnen",
        ],
        Complete => [
            "Care is completed",
            "La prise en charge est terminée",
            "De begeleiding is afgerond",
            "Die Betreuung ist abgeschlossen",
        ],
        Fail => [
            "Could not take place",
            "N'a pas pu avoir lieu",
            "Kon niet plaatsvinden",
            "Konnte nicht stattfinden",
        ],
        Reason => ["Reason", "Motif", "Reden", "Grund"],
        Outcome => ["Outcome", "Résultat", "Resultaat", "Ergebnis"],
        WaitDays => [
            "Estimated wait (days)",
            "Attente estimée (jours)",
            "Geschatte wachttijd (dagen)",
            "Geschätzte Wartezeit (Tage)",
        ],
        NoCapacity => [
            "No capacity",
            "Pas de place",
            "Geen plaats",
            "Keine Kapazität",
        ],
        NotEligible => [
            "Not eligible",
            "Non éligible",
            "Niet in aanmerking",
            "Nicht anspruchsberechtigt",
        ],
        OutOfArea => [
            "Outside our area",
            "Hors de notre zone",
            "Buiten ons werkgebied",
            "Außerhalb unseres Gebiets",
        ],
        MissingInformation => [
            "Information missing",
            "Informations manquantes",
            "Informatie ontbreekt",
            "Angaben fehlen",
        ],
        Other => ["Other", "Autre", "Andere", "Sonstiges"],
        NeedMet => [
            "Need met",
            "Besoin rencontré",
            "Behoefte vervuld",
            "Bedarf gedeckt",
        ],
        NeedPartlyMet => [
            "Need partly met",
            "Besoin partiellement rencontré",
            "Behoefte deels vervuld",
            "Bedarf teilweise gedeckt",
        ],
        NeedNotMet => [
            "Need not met",
            "Besoin non rencontré",
            "Behoefte niet vervuld",
            "Bedarf nicht gedeckt",
        ],
        NoShow => [
            "The person did not come",
            "La personne ne s'est pas présentée",
            "De persoon is niet gekomen",
            "Die Person ist nicht erschienen",
        ],
        Unreachable => [
            "The person could not be reached",
            "La personne n'a pas pu être jointe",
            "De persoon was onbereikbaar",
            "Die Person war nicht erreichbar",
        ],
        Declined => [
            "The person declined",
            "La personne a refusé",
            "De persoon heeft geweigerd",
            "Die Person hat abgelehnt",
        ],
        Thanks => ["Thank you", "Merci", "Dank u", "Vielen Dank"],
        Recorded => [
            "Your answer was recorded and the care coordinator sees it now.",
            "Votre réponse est enregistrée ; le·la coordinateur·rice la voit dès maintenant.",
            "Uw antwoord is geregistreerd; de zorgcoördinator ziet het meteen.",
            "Ihre Antwort wurde erfasst; die Pflegekoordination sieht sie sofort.",
        ],
        Unavailable => [
            "This link cannot be used",
            "Ce lien ne peut pas être utilisé",
            "Deze link kan niet worden gebruikt",
            "Dieser Link kann nicht verwendet werden",
        ],
        Invalid => [
            "This is not a valid answer link.",
            "Ce lien de réponse n'est pas valide.",
            "Dit is geen geldige antwoordlink.",
            "Dies ist kein gültiger Antwort-Link.",
        ],
        Expired => [
            "This link has expired. Ask the care coordinator for a new one.",
            "Ce lien a expiré. Demandez-en un nouveau au·à la coordinateur·rice de soins.",
            "Deze link is verlopen. Vraag de zorgcoördinator om een nieuwe.",
            "Dieser Link ist abgelaufen. Bitten Sie die Pflegekoordination um einen neuen.",
        ],
        Replaced => [
            "A newer link was sent for this referral: please use that one.",
            "Un lien plus récent a été envoyé pour cette orientation : utilisez celui-là.",
            "Voor deze verwijzing werd een nieuwere link verstuurd: gebruik die.",
            "Für diese Überweisung wurde ein neuerer Link verschickt: Bitte verwenden Sie diesen.",
        ],
        Closed => [
            "This referral is closed: nothing more to answer.",
            "Cette orientation est clôturée : plus rien à répondre.",
            "Deze verwijzing is afgesloten: er valt niets meer te beantwoorden.",
            "Diese Überweisung ist abgeschlossen: Es gibt nichts mehr zu beantworten.",
        ],
        TryLater => [
            "Please try again in a moment.",
            "Veuillez réessayer dans un instant.",
            "Probeer het zo dadelijk opnieuw.",
            "Bitte versuchen Sie es gleich noch einmal.",
        ],
        Malformed => [
            "Please choose an answer (and a reason or outcome where asked).",
            "Veuillez choisir une réponse (et un motif ou un résultat si demandé).",
            "Kies een antwoord (en een reden of resultaat waar gevraagd).",
            "Bitte wählen Sie eine Antwort (und wo verlangt einen Grund oder ein Ergebnis).",
        ],
        NotAllowedNow => [
            "This answer is no longer possible: the referral has moved on. Here is where it stands.",
            "Cette réponse n'est plus possible : l'orientation a évolué. Voici où elle en est.",
            "Dit antwoord is niet meer mogelijk: de verwijzing is intussen gewijzigd. Zo staat ze nu.",
            "Diese Antwort ist nicht mehr möglich: Die Überweisung hat sich geändert. So ist der Stand.",
        ],
        LanguageName => ["English", "Français", "Nederlands", "Deutsch"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text exists in the four languages, none empty, and the four
    /// languages' names are themselves.
    #[test]
    fn every_text_is_in_four_languages() {
        use Text::*;
        let all = [
            Title,
            Intro,
            Need,
            Service,
            Status,
            ValidUntil,
            StatusRequested,
            StatusAccepted,
            StatusOnHold,
            StatusInProgress,
            StatusClosed,
            Accept,
            Reject,
            Waitlist,
            Start,
            Complete,
            Fail,
            Reason,
            Outcome,
            WaitDays,
            NoCapacity,
            NotEligible,
            OutOfArea,
            MissingInformation,
            Other,
            NeedMet,
            NeedPartlyMet,
            NeedNotMet,
            NoShow,
            Unreachable,
            Declined,
            Thanks,
            Recorded,
            Unavailable,
            Invalid,
            Expired,
            Replaced,
            Closed,
            TryLater,
            Malformed,
            NotAllowedNow,
            LanguageName,
        ];
        for x in all {
            let w = words(x);
            assert!(w.iter().all(|s| !s.trim().is_empty()), "{x:?}");
        }
        assert_eq!(t(Lang::Nl, LanguageName), "Nederlands");
        assert_eq!(t(Lang::De, Accept), "Annehmen");
    }
}
