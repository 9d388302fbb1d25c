#!/usr/bin/env python3
"""Generates infra/data/hsds-example/: a realistic example HSDS 3.0 data package of
supportive-care services in Belgium, Germany and the Netherlands (fictional
organisations), in the CareLedger profile of HSDS described in its README.

Deterministic: run it again and the files come out the same.
    python3 tools/generate_example_hsds.py
"""
import json, os, uuid

NS = uuid.UUID("6f1c2a52-3c1e-4c53-9a8e-2d6a3f0b9c11")
def uid(*parts): return str(uuid.uuid5(NS, "/".join(parts)))

CITIES = [
    # key, country, region, postal code, city names (en fr nl de), languages, organisation
    ("leuven", "BE", "BE-VBR", "3000", {"en": "Leuven", "fr": "Louvain", "nl": "Leuven", "de": "Löwen"}, ["nl", "en", "fr"], "Centrum voor Ondersteunende Zorg Leuven"),
    ("brussels", "BE", "BE-BRU", "1000", {"en": "Brussels", "fr": "Bruxelles", "nl": "Brussel", "de": "Brüssel"}, ["fr", "nl", "en", "ar"], "Maison de Soutien Bruxelles"),
    ("liege", "BE", "BE-WLG", "4000", {"en": "Liège", "fr": "Liège", "nl": "Luik", "de": "Lüttich"}, ["fr", "de"], "Centre de Soins de Support de Liège"),
    ("aachen", "DE", "DE-PLZ-5", "52062", {"en": "Aachen", "fr": "Aix-la-Chapelle", "nl": "Aken", "de": "Aachen"}, ["de", "nl", "en"], "Psychoonkologisches Zentrum Aachen"),
    ("koeln", "DE", "DE-PLZ-5", "50667", {"en": "Cologne", "fr": "Cologne", "nl": "Keulen", "de": "Köln"}, ["de", "tr", "en"], "Krebsberatung Köln"),
    ("maastricht", "NL", "NL-LI", "6211AB", {"en": "Maastricht", "fr": "Maastricht", "nl": "Maastricht", "de": "Maastricht"}, ["nl", "de", "en", "fr"], "Inloophuis Maastricht"),
    ("nijmegen", "NL", "NL-GE", "6511AA", {"en": "Nijmegen", "fr": "Nimègue", "nl": "Nijmegen", "de": "Nimwegen"}, ["nl", "en", "tr"], "Centrum Ondersteunende Zorg Nijmegen"),
]

# key, names (en fr nl de), description (en fr nl de), needs, cost, eligibility, area kind
T = [
    ("psycho-oncology",
     {"en": "Psycho-oncology consultation", "fr": "Consultation de psycho-oncologie", "nl": "Psycho-oncologisch consult", "de": "Psychoonkologische Beratung"},
     {"en": "Individual sessions with a psychologist specialised in cancer care.", "fr": "Séances individuelles avec un psychologue spécialisé en oncologie.", "nl": "Individuele gesprekken met een psycholoog gespecialiseerd in kankerzorg.", "de": "Einzelgespräche mit einer auf Krebs spezialisierten Psychologin."},
     ["psy.anxiety", "psy.depression", "psy.fear-of-recurrence", "psy.worry", "psy.stress", "psy.coping", "psy.uncertainty", "psy.sadness", "psy.trauma", "psy.nervousness", "psy.guilt", "psy.anger", "psy.loss-of-interest"],
     "reimbursed", {}, "region"),
    ("relatives-group",
     {"en": "Support group for relatives", "fr": "Groupe de parole pour les proches", "nl": "Praatgroep voor naasten", "de": "Gesprächsgruppe für Angehörige"},
     {"en": "Monthly group for partners, children and carers.", "fr": "Groupe mensuel pour partenaires, enfants et aidants.", "nl": "Maandelijkse groep voor partners, kinderen en mantelzorgers.", "de": "Monatliche Gruppe für Partner, Kinder und Pflegende."},
     ["psy.carer-strain", "psy.family-conflict", "psy.bereavement", "psy.children", "psy.partner-relationship", "psy.loneliness"],
     "free", {"patients": False, "relatives": True}, "region"),
    ("walk-in",
     {"en": "Walk-in centre", "fr": "Maison de soutien", "nl": "Inloophuis", "de": "Begegnungszentrum"},
     {"en": "Drop in for a talk, activities and meeting others.", "fr": "Passez pour parler, participer à des activités et rencontrer d'autres personnes.", "nl": "Loop binnen voor een gesprek, activiteiten en lotgenotencontact.", "de": "Kommen Sie vorbei für Gespräche, Aktivitäten und Begegnung."},
     ["psy.peer-support", "psy.loneliness", "soc.social-contacts", "psy.body-image", "psy.self-esteem", "soc.leisure", "psy.meaning", "psy.spiritual"],
     "free", {}, "postal"),
    ("return-to-work",
     {"en": "Return-to-work coaching", "fr": "Accompagnement au retour au travail", "nl": "Coaching bij werkhervatting", "de": "Coaching zur Rückkehr in den Beruf"},
     {"en": "Coaching, contact with employer and occupational physician.", "fr": "Coaching, contact avec l'employeur et le médecin du travail.", "nl": "Coaching, contact met werkgever en arbeidsarts.", "de": "Coaching, Kontakt zu Arbeitgeber und Betriebsarzt."},
     ["spi.return-to-work", "spi.job-retention", "spi.workplace-adjustment", "spi.employer-communication", "spi.sick-leave", "spi.occupational-physician", "spi.gradual-resumption", "spi.work-capacity", "spi.career-guidance", "spi.job-search", "spi.retraining"],
     "free", {"min_age": 18, "max_age": 67}, "region"),
    ("social-work",
     {"en": "Social work service", "fr": "Service social", "nl": "Sociale dienst", "de": "Sozialdienst"},
     {"en": "Help with money, insurance, paperwork and rights.", "fr": "Aide pour les finances, la mutualité, les démarches et les droits.", "nl": "Hulp bij geld, ziekenfonds, papierwerk en rechten.", "de": "Hilfe bei Finanzen, Versicherung, Anträgen und Rechten."},
     ["soc.financial-hardship", "soc.treatment-costs", "soc.health-insurance", "soc.income-support", "soc.debt", "soc.paperwork", "soc.legal-advice", "soc.residence-status", "spi.disability-benefits", "spi.pension", "spi.insurance-loans", "spi.carer-leave"],
     "free", {}, "region"),
    ("dietitian",
     {"en": "Oncology dietitian", "fr": "Diététicien en oncologie", "nl": "Oncologisch diëtist", "de": "Onkologische Ernährungsberatung"},
     {"en": "Nutrition advice during and after treatment.", "fr": "Conseils nutritionnels pendant et après le traitement.", "nl": "Voedingsadvies tijdens en na de behandeling.", "de": "Ernährungsberatung während und nach der Behandlung."},
     ["med.nutrition", "med.appetite", "med.nausea", "med.swallowing", "med.mouth", "med.bowel"],
     "reimbursed", {}, "postal"),
    ("physio",
     {"en": "Oncology rehabilitation and exercise", "fr": "Revalidation oncologique et activité physique", "nl": "Oncologische revalidatie en beweging", "de": "Onkologische Rehabilitation und Bewegung"},
     {"en": "Supervised exercise programme and physiotherapy.", "fr": "Programme d'exercice encadré et kinésithérapie.", "nl": "Begeleid beweegprogramma en kinesitherapie.", "de": "Betreutes Bewegungsprogramm und Physiotherapie."},
     ["med.fatigue", "med.physical-activity", "med.mobility", "med.lymphoedema", "med.neuropathy", "med.breathing", "med.sleep"],
     "reimbursed", {}, "region"),
    ("home-care",
     {"en": "Home care and nursing", "fr": "Soins et aide à domicile", "nl": "Thuiszorg en thuisverpleging", "de": "Häusliche Pflege"},
     {"en": "Nursing, personal care and household help at home.", "fr": "Soins infirmiers, soins personnels et aide ménagère à domicile.", "nl": "Verpleging, persoonlijke verzorging en hulp in het huishouden.", "de": "Pflege, Körperpflege und Haushaltshilfe zu Hause."},
     ["soc.home-nursing", "soc.personal-care", "soc.household", "soc.meals", "soc.home-help", "soc.respite-care", "soc.aids-equipment", "soc.home-adaptation", "med.wound-care"],
     "fee", {}, "region"),
    ("sexology",
     {"en": "Sexology consultation", "fr": "Consultation de sexologie", "nl": "Seksuologisch consult", "de": "Sexualmedizinische Beratung"},
     {"en": "For changes in sexuality and intimacy after cancer.", "fr": "Pour les changements de sexualité et d'intimité après un cancer.", "nl": "Bij veranderingen in seksualiteit en intimiteit na kanker.", "de": "Bei Veränderungen von Sexualität und Intimität nach Krebs."},
     ["med.sexual-health", "psy.intimacy", "psy.partner-relationship", "psy.body-image", "med.hormonal-effects"],
     "fee", {"min_age": 18}, "region"),
    ("palliative",
     {"en": "Palliative home care team", "fr": "Équipe de soins palliatifs à domicile", "nl": "Palliatieve thuiszorgequipe", "de": "Spezialisierte ambulante Palliativversorgung"},
     {"en": "Palliative care and support at home, day and night.", "fr": "Soins palliatifs et soutien à domicile, jour et nuit.", "nl": "Palliatieve zorg en ondersteuning thuis, dag en nacht.", "de": "Palliativversorgung und Begleitung zu Hause, Tag und Nacht."},
     ["soc.palliative-home", "med.palliative-symptoms", "psy.end-of-life", "psy.advance-care-planning", "med.pain"],
     "free", {}, "region"),
    ("transport",
     {"en": "Patient transport at a social rate", "fr": "Transport de patients à tarif social", "nl": "Ziekenvervoer aan sociaal tarief", "de": "Krankenfahrten zum Sozialtarif"},
     {"en": "Rides to treatment for people with preferential reimbursement.", "fr": "Trajets vers le traitement pour les bénéficiaires de l'intervention majorée.", "nl": "Ritten naar de behandeling voor mensen met verhoogde tegemoetkoming.", "de": "Fahrten zur Behandlung für Menschen mit Sozialtarif."},
     ["soc.transport", "soc.mobility-allowance"],
     "free", {"requires_preferential_reimbursement": True}, "country"),
    ("young-adults",
     {"en": "Young adults with cancer programme", "fr": "Programme jeunes adultes et cancer", "nl": "Programma jongvolwassenen met kanker", "de": "Programm für junge Erwachsene mit Krebs"},
     {"en": "Peer meetings, studies, work and fertility questions for ages 16 to 39.", "fr": "Rencontres, études, travail et fertilité pour les 16 à 39 ans.", "nl": "Lotgenoten, studie, werk en vruchtbaarheid voor 16 tot 39 jaar.", "de": "Treffen, Studium, Beruf und Fruchtbarkeit für 16- bis 39-Jährige."},
     ["psy.young-adult", "spi.studies", "spi.school", "med.fertility", "psy.peer-support"],
     "free", {"min_age": 16, "max_age": 39}, "country"),
    ("interpreting",
     {"en": "Intercultural mediation and interpreting", "fr": "Médiation interculturelle et interprétariat", "nl": "Interculturele bemiddeling en tolken", "de": "Interkulturelle Vermittlung und Dolmetschen"},
     {"en": "Interpreters and mediators for consultations.", "fr": "Interprètes et médiateurs pour les consultations.", "nl": "Tolken en bemiddelaars voor consultaties.", "de": "Dolmetscher und Vermittler für Gespräche."},
     ["soc.interpreter", "soc.health-literacy", "psy.communication-care-team", "psy.information"],
     "free", {}, "country"),
    ("smoking",
     {"en": "Smoking cessation clinic", "fr": "Consultation d'aide à l'arrêt du tabac", "nl": "Rookstopbegeleiding", "de": "Rauchentwöhnung"},
     {"en": "Counselling and medication to stop smoking.", "fr": "Accompagnement et médicaments pour arrêter de fumer.", "nl": "Begeleiding en medicatie om te stoppen met roken.", "de": "Beratung und Medikamente zum Rauchstopp."},
     ["med.smoking-cessation", "med.alcohol"],
     "reimbursed", {}, "region"),
    ("social-fund",
     {"en": "Solidarity fund", "fr": "Fonds de solidarité", "nl": "Solidariteitsfonds", "de": "Solidaritätsfonds"},
     {"en": "One-off financial help for households on a low income.", "fr": "Aide financière ponctuelle pour les ménages à faible revenu.", "nl": "Eenmalige financiële hulp voor gezinnen met een laag inkomen.", "de": "Einmalige finanzielle Hilfe für Haushalte mit geringem Einkommen."},
     ["soc.financial-hardship", "soc.utilities", "soc.treatment-costs"],
     "free", {"requires_preferential_reimbursement": True}, "country"),
]

def main():
    out = os.path.join(os.path.dirname(__file__), "..", "infra", "data", "hsds-example")
    orgs, services, locations, areas, languages, costs, schedules, mapping = [], [], [], [], [], [], [], []
    national_done = set()
    for ci, (key, country, region, postal, city, langs, org_name) in enumerate(CITIES):
        org_id = uid("org", key)
        orgs.append({"id": org_id, "name": org_name, "description": f"Supportive care for people with cancer and their relatives in {city['en']}.",
                     "email": f"info@{key}.example.org", "website": f"https://{key}.example.org"})
        loc_id = uid("loc", key)
        locations.append({"id": loc_id, "organization_id": org_id, "name": f"{org_name}", "location_type": "physical",
                          "addresses": [{"locality": city["en"], "postal_code": postal, "country": country}]})
        for ti, (tkey, names, descs, needs, cost, elig, area_kind) in enumerate(T):
            # Country-wide services exist once per country, run by that country's first city.
            if area_kind == "country":
                if (tkey, country) in national_done:
                    continue
                national_done.add((tkey, country))
            # Not every city offers everything.
            if (ci * 7 + ti * 3) % 11 == 0 and area_kind != "country":
                continue
            sid = uid("service", key, tkey)
            suffix = {l: f" — {city[l]}" for l in city} if area_kind != "country" else {"en": f" ({country})", "fr": f" ({country})", "nl": f" ({country})", "de": f" ({country})"}
            capacity = {"status": "has_capacity"}
            if (ci + ti) % 5 == 0:
                capacity = {"status": "waitlist", "estimated_wait_days": 14 + 7 * ((ci + ti) % 4)}
            elif (ci + ti) % 13 == 0:
                capacity = {"status": "no_capacity"}
            eligibility = {"patients": elig.get("patients", True), "relatives": elig.get("relatives", True),
                           "requires_preferential_reimbursement": elig.get("requires_preferential_reimbursement", False)}
            svc = {
                "id": sid, "organization_id": org_id,
                "name": names["en"] + suffix["en"], "description": descs["en"],
                "email": f"{tkey}@{key}.example.org", "url": f"https://{key}.example.org/{tkey}",
                "status": "inactive" if (ci == 2 and ti == 13) else "active",
                "x_careledger": {
                    "translations": {l: {"name": names[l] + suffix[l], "description": descs[l]} for l in ("fr", "nl", "de")},
                    "eligibility": eligibility,
                    "capacity": capacity,
                },
            }
            if "min_age" in elig: svc["minimum_age"] = elig["min_age"]
            if "max_age" in elig: svc["maximum_age"] = elig["max_age"]
            services.append(svc)
            if area_kind == "country":
                areas.append({"id": uid("area", sid), "service_id": sid, "name": country, "extent_type": "country", "extent": country})
            elif area_kind == "region":
                areas.append({"id": uid("area", sid), "service_id": sid, "name": region, "extent_type": "region", "extent": region})
            else:
                areas.append({"id": uid("area", sid), "service_id": sid, "name": f"{city['en']} {postal}", "extent_type": "postal_code", "extent": f"{country}:{postal}"})
                areas.append({"id": uid("area2", sid), "service_id": sid, "name": region, "extent_type": "region", "extent": region})
            svc_langs = langs[:2] if ti % 2 else langs
            for l in svc_langs:
                languages.append({"id": uid("lang", sid, l), "service_id": sid, "code": l})
            costs.append({"id": uid("cost", sid), "service_id": sid, "option": cost,
                          **({"amount": 45.0, "currency": "EUR"} if cost == "fee" else {})})
            schedules.append({"id": uid("sched", sid), "service_id": sid, "freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR",
                              "opens_at": "09:00", "closes_at": "17:00"})
            mapping.append({"service_id": sid, "needs": needs})
    files = {"organizations.json": orgs, "services.json": services, "locations.json": locations,
             "service_areas.json": areas, "languages.json": languages, "cost_options.json": costs,
             "schedules.json": schedules, "need_services.json": mapping}
    for name, data in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"{len(services)} services, {len(orgs)} organisations")

main()
