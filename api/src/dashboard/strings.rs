//! The dashboard's words in English, French, Dutch and German.

use careledger_app::equity::Outcome;
use careledger_domain::values::Lang;
use careledger_projections::equity::cube::Stratifier;
use careledger_projections::equity::report::SuppressionRule;

/// One text of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Title,
    SignInTitle,
    SignInHelp,
    Token,
    SignIn,
    SignOut,
    SignInRefused,
    Filters,
    From,
    To,
    Sites,
    AllSites,
    Domain,
    AllDomains,
    Need,
    Stratifier,
    SecondStratifier,
    Outcome,
    TimeOutcome,
    Reference,
    Largest,
    MostFavourable,
    Show,
    Language,
    Rates,
    RatesCaption,
    Ratios,
    RatiosCaption,
    Survival,
    SurvivalCaption,
    AtRisk,
    Trend,
    TrendCaption,
    HeatMap,
    HeatMapCaption,
    Group,
    Cases,
    Numerator,
    Rate,
    Interval,
    Ratio,
    Events,
    Median,
    Days,
    Month,
    Overall,
    ReferenceMark,
    Withheld,
    WithheldNote,
    DownloadCsv,
    ShareOfCases,
    NoData,
    Perturbed,
    Exact,
    SignedInAs,
    Summary,
    Value,
    Meaning,
    MeasuresCaption,
}

/// The text in `lang`.
pub fn t(lang: Lang, text: Text) -> &'static str {
    use Text::*;
    let [en, fr, nl, de] = match text {
        Title => [
            "Equity of access",
            "Équité d'accès",
            "Gelijke toegang",
            "Zugangsgerechtigkeit",
        ],
        SignInTitle => ["Sign in", "Connexion", "Aanmelden", "Anmelden"],
        SignInHelp => [
            "Paste the access token you use for the API. The page keeps a session for up to 8 hours.",
            "Collez le jeton d'accès que vous utilisez pour l'API. La page garde une session 8 heures au plus.",
            "Plak het toegangstoken dat u voor de API gebruikt. De pagina bewaart een sessie van hoogstens 8 uur.",
            "Fügen Sie das Zugriffstoken ein, das Sie für die API verwenden. Die Seite hält eine Sitzung höchstens 8 Stunden.",
        ],
        Token => [
            "Access token",
            "Jeton d'accès",
            "Toegangstoken",
            "Zugriffstoken",
        ],
        SignIn => ["Sign in", "Se connecter", "Aanmelden", "Anmelden"],
        SignOut => ["Sign out", "Se déconnecter", "Afmelden", "Abmelden"],
        SignInRefused => [
            "This token does not give access to the dashboard (quality managers, administrators and care coordinators).",
            "Ce jeton ne donne pas accès au tableau de bord (responsables qualité, administrateurs et coordinateurs de soins).",
            "Dit token geeft geen toegang tot het dashboard (kwaliteitsmanagers, beheerders en zorgcoördinatoren).",
            "Dieses Token gewährt keinen Zugang zum Dashboard (Qualitätsmanager, Administratoren und Versorgungskoordinatoren).",
        ],
        Filters => [
            "What to show",
            "Ce qui est affiché",
            "Wat tonen",
            "Was gezeigt wird",
        ],
        From => ["From (month)", "De (mois)", "Van (maand)", "Von (Monat)"],
        To => ["To (month)", "À (mois)", "Tot (maand)", "Bis (Monat)"],
        Sites => ["Sites", "Sites", "Sites", "Standorte"],
        AllSites => [
            "All my sites",
            "Tous mes sites",
            "Al mijn sites",
            "Alle meine Standorte",
        ],
        Domain => ["Domain", "Domaine", "Domein", "Bereich"],
        AllDomains => [
            "All domains",
            "Tous les domaines",
            "Alle domeinen",
            "Alle Bereiche",
        ],
        Need => [
            "Need (code)",
            "Besoin (code)",
            "Behoefte (code)",
            "Bedarf (Code)",
        ],
        Stratifier => [
            "Compare by",
            "Comparer par",
            "Vergelijken op",
            "Vergleichen nach",
        ],
        SecondStratifier => [
            "and by (heat map)",
            "et par (carte de chaleur)",
            "en op (heatmap)",
            "und nach (Heatmap)",
        ],
        Outcome => ["Outcome", "Résultat", "Uitkomst", "Ergebnis"],
        TimeOutcome => ["Time to", "Délai jusqu'à", "Tijd tot", "Zeit bis"],
        Reference => [
            "Reference group",
            "Groupe de référence",
            "Referentiegroep",
            "Referenzgruppe",
        ],
        Largest => [
            "Largest group",
            "Groupe le plus grand",
            "Grootste groep",
            "Größte Gruppe",
        ],
        MostFavourable => [
            "Most favourable",
            "Le plus favorable",
            "Meest gunstig",
            "Günstigste",
        ],
        Show => ["Show", "Afficher", "Tonen", "Anzeigen"],
        Language => ["Language", "Langue", "Taal", "Sprache"],
        Rates => [
            "Rates by group",
            "Taux par groupe",
            "Percentages per groep",
            "Raten nach Gruppe",
        ],
        RatesCaption => [
            "Rate per group (dot) with its 95% Wilson interval (whisker); the dashed line is the overall rate, the reference group is marked.",
            "Taux par groupe (point) avec son intervalle de Wilson à 95 % (moustache) ; la ligne pointillée est le taux global, le groupe de référence est marqué.",
            "Percentage per groep (punt) met zijn 95%-Wilson-interval (snor); de stippellijn is het totale percentage, de referentiegroep is gemarkeerd.",
            "Rate je Gruppe (Punkt) mit 95-%-Wilson-Intervall (Linie); die gestrichelte Linie ist die Gesamtrate, die Referenzgruppe ist markiert.",
        ],
        Ratios => [
            "Ratio to the reference",
            "Rapport à la référence",
            "Verhouding tot de referentie",
            "Verhältnis zur Referenz",
        ],
        RatiosCaption => [
            "Rate ratio to the reference group with its 95% interval, log scale; the shaded band is parity (0.8 to 1.25).",
            "Rapport de taux au groupe de référence avec son intervalle à 95 %, échelle logarithmique ; la bande grisée est la parité (0,8 à 1,25).",
            "Verhouding tot de referentiegroep met 95%-interval, logaritmische schaal; de gearceerde band is pariteit (0,8 tot 1,25).",
            "Ratenverhältnis zur Referenzgruppe mit 95-%-Intervall, logarithmisch; das schattierte Band ist Parität (0,8 bis 1,25).",
        ],
        Survival => [
            "Time to event (Kaplan–Meier)",
            "Délai (Kaplan–Meier)",
            "Tijd tot gebeurtenis (Kaplan–Meier)",
            "Zeit bis zum Ereignis (Kaplan–Meier)",
        ],
        SurvivalCaption => [
            "Share of need cases still waiting, by days since the need was identified, per group; numbers at risk under the axis.",
            "Part des besoins encore en attente, en jours depuis l'identification du besoin, par groupe ; effectifs à risque sous l'axe.",
            "Aandeel behoeften dat nog wacht, in dagen sinds de behoefte werd vastgesteld, per groep; aantallen at risk onder de as.",
            "Anteil der noch wartenden Bedarfe, in Tagen seit Feststellung des Bedarfs, je Gruppe; Zahl unter Risiko unter der Achse.",
        ],
        AtRisk => ["At risk", "À risque", "At risk", "Unter Risiko"],
        Trend => [
            "Monthly trend",
            "Évolution mensuelle",
            "Maandelijks verloop",
            "Monatlicher Verlauf",
        ],
        TrendCaption => [
            "Rate per month of identification, per group; withheld months are gaps, never zero.",
            "Taux par mois d'identification, par groupe ; les mois retenus sont des trous, jamais des zéros.",
            "Percentage per maand van vaststelling, per groep; achtergehouden maanden zijn gaten, nooit nul.",
            "Rate je Monat der Feststellung, je Gruppe; zurückgehaltene Monate sind Lücken, nie null.",
        ],
        HeatMap => [
            "Two-way table",
            "Tableau croisé",
            "Kruistabel",
            "Kreuztabelle",
        ],
        HeatMapCaption => [
            "Rate in each combination of the two groupings; darker is higher; withheld cells are hatched and labelled.",
            "Taux dans chaque combinaison des deux regroupements ; plus foncé est plus élevé ; les cellules retenues sont hachurées et étiquetées.",
            "Percentage in elke combinatie van de twee indelingen; donkerder is hoger; achtergehouden cellen zijn gearceerd en benoemd.",
            "Rate in jeder Kombination der beiden Gruppierungen; dunkler ist höher; zurückgehaltene Zellen sind schraffiert und beschriftet.",
        ],
        Group => ["Group", "Groupe", "Groep", "Gruppe"],
        Cases => ["Cases", "Cas", "Gevallen", "Fälle"],
        Numerator => ["Numerator", "Numérateur", "Teller", "Zähler"],
        Rate => ["Rate", "Taux", "Percentage", "Rate"],
        Interval => [
            "95% interval",
            "Intervalle à 95 %",
            "95%-interval",
            "95-%-Intervall",
        ],
        Ratio => ["Ratio", "Rapport", "Verhouding", "Verhältnis"],
        Events => ["Events", "Événements", "Gebeurtenissen", "Ereignisse"],
        Median => [
            "Median (days)",
            "Médiane (jours)",
            "Mediaan (dagen)",
            "Median (Tage)",
        ],
        Days => ["Days", "Jours", "Dagen", "Tage"],
        Month => ["Month", "Mois", "Maand", "Monat"],
        Overall => ["Overall", "Global", "Totaal", "Gesamt"],
        ReferenceMark => ["reference", "référence", "referentie", "Referenz"],
        Withheld => ["Withheld", "Retenu", "Achtergehouden", "Zurückgehalten"],
        WithheldNote => [
            "Withheld groups are listed with the rule that withheld them; they are never drawn.",
            "Les groupes retenus sont listés avec la règle qui les retient ; ils ne sont jamais dessinés.",
            "Achtergehouden groepen staan vermeld met de regel die ze achterhoudt; ze worden nooit getekend.",
            "Zurückgehaltene Gruppen sind mit ihrer Regel aufgeführt; sie werden nie gezeichnet.",
        ],
        DownloadCsv => [
            "Download CSV",
            "Télécharger le CSV",
            "CSV downloaden",
            "CSV herunterladen",
        ],
        ShareOfCases => [
            "Share still waiting",
            "Part encore en attente",
            "Aandeel nog wachtend",
            "Anteil noch wartend",
        ],
        NoData => [
            "No data to show for this selection.",
            "Aucune donnée pour cette sélection.",
            "Geen gegevens voor deze selectie.",
            "Keine Daten für diese Auswahl.",
        ],
        Perturbed => [
            "Counts are perturbed (cell-key method, at most ±2) and small cells withheld.",
            "Les effectifs sont perturbés (méthode cell-key, ±2 au plus) et les petites cellules retenues.",
            "Aantallen zijn verstoord (cell-key-methode, hoogstens ±2) en kleine cellen achtergehouden.",
            "Zahlen sind gestört (Cell-Key-Verfahren, höchstens ±2) und kleine Zellen zurückgehalten.",
        ],
        Exact => [
            "Exact counts of your own sites; small cells withheld.",
            "Effectifs exacts de vos propres sites ; petites cellules retenues.",
            "Exacte aantallen van uw eigen sites; kleine cellen achtergehouden.",
            "Exakte Zahlen Ihrer eigenen Standorte; kleine Zellen zurückgehalten.",
        ],
        SignedInAs => [
            "Signed in as",
            "Connecté en tant que",
            "Aangemeld als",
            "Angemeldet als",
        ],
        Summary => [
            "Summary measures",
            "Mesures de synthèse",
            "Samenvattende maten",
            "Zusammenfassende Maße",
        ],
        Value => ["Value", "Valeur", "Waarde", "Wert"],
        Meaning => [
            "What it measures (definition linked)",
            "Ce qu'elle mesure (définition en lien)",
            "Wat ze meet (definitie gelinkt)",
            "Was es misst (Definition verlinkt)",
        ],
        MeasuresCaption => [
            "Summary measures of inequality (WHO HEAT), from the released groups only; withheld groups are left out.",
            "Mesures de synthèse des inégalités (OMS HEAT), à partir des seuls groupes publiés ; les groupes retenus sont exclus.",
            "Samenvattende ongelijkheidsmaten (WHO HEAT), enkel uit de vrijgegeven groepen; achtergehouden groepen vallen weg.",
            "Zusammenfassende Ungleichheitsmaße (WHO HEAT), nur aus den freigegebenen Gruppen; zurückgehaltene Gruppen bleiben außen vor.",
        ],
    };
    match lang {
        Lang::En => en,
        Lang::Fr => fr,
        Lang::Nl => nl,
        Lang::De => de,
    }
}

/// An outcome's name.
pub fn outcome(lang: Lang, o: Outcome) -> &'static str {
    let [en, fr, nl, de] = match o {
        Outcome::ReferralRate => [
            "Referral rate",
            "Taux d'orientation",
            "Verwijspercentage",
            "Überweisungsrate",
        ],
        Outcome::CompletionRate => [
            "Completion rate",
            "Taux d'aboutissement",
            "Voltooiingspercentage",
            "Abschlussrate",
        ],
        Outcome::UnmetNeedRate => [
            "Unmet need rate",
            "Taux de besoins non satisfaits",
            "Percentage onvervulde behoeften",
            "Rate ungedeckter Bedarfe",
        ],
        Outcome::RejectionRate => [
            "Rejection rate",
            "Taux de refus",
            "Weigeringspercentage",
            "Ablehnungsrate",
        ],
        Outcome::TimeToReferral => [
            "Time to referral",
            "Délai d'orientation",
            "Tijd tot verwijzing",
            "Zeit bis zur Überweisung",
        ],
        Outcome::TimeToCompletion => [
            "Time to completion",
            "Délai d'aboutissement",
            "Tijd tot voltooiing",
            "Zeit bis zum Abschluss",
        ],
    };
    pick(lang, [en, fr, nl, de])
}

/// A stratifier's name.
pub fn stratifier(lang: Lang, s: Stratifier) -> &'static str {
    let [en, fr, nl, de] = match s {
        Stratifier::AgeBand => [
            "Age band",
            "Tranche d'âge",
            "Leeftijdsgroep",
            "Altersgruppe",
        ],
        Stratifier::Sex => ["Sex", "Sexe", "Geslacht", "Geschlecht"],
        Stratifier::Region => ["Region", "Région", "Regio", "Region"],
        Stratifier::Country => ["Country", "Pays", "Land", "Land"],
        Stratifier::Language => ["Language", "Langue", "Taal", "Sprache"],
        Stratifier::PreferentialReimbursement => [
            "Preferential reimbursement",
            "Intervention majorée",
            "Verhoogde tegemoetkoming",
            "Erhöhte Kostenerstattung",
        ],
        Stratifier::DeprivationQuintile => [
            "Deprivation quintile",
            "Quintile de défavorisation",
            "Deprivatiekwintiel",
            "Deprivationsquintil",
        ],
        Stratifier::RecipientKind => [
            "Patient or relative",
            "Patient ou proche",
            "Patiënt of naaste",
            "Patient oder Angehörige",
        ],
        Stratifier::Site => ["Site", "Site", "Site", "Standort"],
        Stratifier::CancerSiteGroup => [
            "Cancer site",
            "Localisation du cancer",
            "Kankerlocatie",
            "Krebslokalisation",
        ],
        Stratifier::Domain => ["Domain", "Domaine", "Domein", "Bereich"],
    };
    pick(lang, [en, fr, nl, de])
}

/// Why a group was withheld, in words.
pub fn rule(lang: Lang, r: SuppressionRule) -> &'static str {
    let [en, fr, nl, de] = match r {
        SuppressionRule::DenominatorBelowK => [
            "fewer cases than the threshold",
            "moins de cas que le seuil",
            "minder gevallen dan de drempel",
            "weniger Fälle als die Schwelle",
        ],
        SuppressionRule::NumeratorBelowK => [
            "numerator below the threshold",
            "numérateur sous le seuil",
            "teller onder de drempel",
            "Zähler unter der Schwelle",
        ],
        SuppressionRule::ComplementBelowK => [
            "complement below the threshold",
            "complément sous le seuil",
            "complement onder de drempel",
            "Komplement unter der Schwelle",
        ],
        SuppressionRule::Complementary => [
            "withheld so another cannot be recovered",
            "retenu pour qu'un autre ne puisse être retrouvé",
            "achtergehouden zodat een andere niet te herleiden is",
            "zurückgehalten, damit eine andere nicht rückrechenbar ist",
        ],
        SuppressionRule::TotalBelowK => [
            "totals below the threshold",
            "totaux sous le seuil",
            "totalen onder de drempel",
            "Summen unter der Schwelle",
        ],
    };
    pick(lang, [en, fr, nl, de])
}

fn pick(lang: Lang, v: [&'static str; 4]) -> &'static str {
    match lang {
        Lang::En => v[0],
        Lang::Fr => v[1],
        Lang::Nl => v[2],
        Lang::De => v[3],
    }
}
