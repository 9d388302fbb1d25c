//! The matrix's rows: every operation, who may call it, and how to prepare a
//! request for it.

use super::*;

pub(super) fn rows() -> Vec<Row> {
    let agg_filter = json!({ "sites": [IN] });
    let f1 = agg_filter.clone();
    let f2 = agg_filter.clone();
    let f3 = agg_filter;
    vec![
        // --- Queries ---------------------------------------------------------------
        row("Query.referralInbox", PROVIDER_IN, |_| {
            let q = "query($o: ID!) { referralInbox(organisation: $o) { totalCount } }";
            query(q, json!({ "o": ORG }))
        }),
        row("Query.node", CASEWORK, |fx| {
            query(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": fx.identified() }),
            )
        }),
        row("Query.node(Service)", EVERYONE, |fx| {
            let id = fx.s.admin_data(
                "query($id: ID!) { service(id: $id) { id } }",
                json!({ "id": fx.service }),
            )["service"]["id"]
                .clone();
            query(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
        }),
        row("Query.needCase", CASEWORK, |fx| {
            query(
                "query($id: ID!) { needCase(id: $id) { id status } }",
                json!({ "id": fx.identified() }),
            )
        }),
        row("Query.careRecipient", CASEWORK, |fx| {
            query(
                "query($id: ID!) { careRecipient(id: $id) { id site } }",
                json!({ "id": fx.recipient().0 }),
            )
        }),
        row("CareRecipient.personalData", CASEWORK, |fx| {
            let v = fx.ok(
                "registerCareRecipient",
                json!({ "site": IN, "birthYear": 1960, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl",
                        "personalData": { "givenName": "Griet", "phone": "+32 16 00 00 00" } }),
                "careRecipient { id }",
            );
            query(
                "query($id: ID!) { careRecipient(id: $id) { personalData { givenName phone } } }",
                json!({ "id": v["careRecipient"]["id"] }),
            )
        }),
        row("Query.needCases", CASEWORK, |_| {
            query(
                "query($s: String!) { needCases(filter: { site: $s }, first: 5) { totalCount } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.worklist", CASEWORK, |_| {
            query(
                "query($s: String!) { worklist(site: $s) { totalCount } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.catalogue", EVERYONE, |_| {
            query("{ catalogue { version } }", json!({}))
        }),
        row("Query.auditTrail", AUDIT_IN, |_| {
            query(
                "query($s: String) { auditTrail(site: $s, first: 5) { edges { cursor } } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.history", CASEWORK, |fx| {
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("need-{}", fx.identified_case().1) }),
            )
        }),
        row("Query.history(service)", INTERNAL, |fx| {
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("service-{}", fx.service) }),
            )
        }),
        row("Query.history(apikey)", ADMIN, |fx| {
            let id = issue_key(fx.s).0;
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("apikey-{id}") }),
            )
        }),
        row("Query.projections", INTERNAL, |_| {
            query("{ projections { position head } }", json!({}))
        }),
        row("Query.service", EVERYONE, |fx| {
            query(
                "query($id: ID!) { service(id: $id) { name } }",
                json!({ "id": fx.service }),
            )
        }),
        row("Service.load", INTERNAL, |fx| {
            query(
                "query($id: ID!) { service(id: $id) { load { requested } } }",
                json!({ "id": fx.service }),
            )
        }),
        row("Query.services", EVERYONE, |_| {
            query("{ services(first: 5) { totalCount } }", json!({}))
        }),
        row("Query.equity", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equity(filter: $f, by: SEX, outcome: REFERRAL_RATE) { k } }",
                json!({ "f": f1 }),
            )
        }),
        row("Query.equityTwoWay", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equityTwoWay(filter: $f, rows: SEX, columns: REGION, outcome: REFERRAL_RATE) { k } }",
                json!({ "f": f2 }),
            )
        }),
        row("Query.equityTrend", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equityTrend(filter: $f, by: SEX, outcome: REFERRAL_RATE) { month } }",
                json!({ "f": f3 }),
            )
        }),
        row("Query.apiKeys", ADMIN, |_| {
            query("{ apiKeys { id } }", json!({}))
        }),
        row("Query.webhookSubscriptions", ADMIN, |_| {
            query("{ webhookSubscriptions { id } }", json!({}))
        }),
        // --- Case work -------------------------------------------------------------
        row("Mutation.registerCareRecipient", CASEWORK, |_| {
            mutation(
                "registerCareRecipient",
                json!({ "site": IN, "birthYear": 1970, "sex": "MALE", "country": "BE", "postalCode": "3000", "language": "fr" }),
            )
        }),
        row("Mutation.identifyNeed", CASEWORK, |fx| {
            mutation(
                "identifyNeed",
                json!({ "recipientId": fx.recipient().1, "needCode": "psy.anxiety" }),
            )
        }),
        row("Mutation.suggestServices", CASEWORK, |fx| {
            mutation(
                "suggestServices",
                json!({ "needCaseId": fx.identified(), "services": [{ "serviceId": fx.service }] }),
            )
        }),
        row("Mutation.suggestServices(ranked)", CASEWORK, |fx| {
            mutation(
                "suggestServices",
                json!({ "needCaseId": fx.identified(), "limit": 3 }),
            )
        }),
        row("Mutation.requestReferral", CASEWORK, |fx| {
            mutation(
                "requestReferral",
                json!({ "needCaseId": fx.suggested(), "serviceId": fx.service }),
            )
        }),
        row("Mutation.acceptReferral", ANSWER, |fx| {
            mutation("acceptReferral", fx.referral(&[]))
        }),
        row("Mutation.rejectReferral", ANSWER, |fx| {
            mutation(
                "rejectReferral",
                with(fx.referral(&[]), json!({ "reason": "NO_CAPACITY" })),
            )
        }),
        row("Mutation.waitlistReferral", ANSWER, |fx| {
            mutation(
                "waitlistReferral",
                with(
                    fx.referral(&["acceptReferral"]),
                    json!({ "estimatedWaitDays": 10 }),
                ),
            )
        }),
        row("Mutation.startReferral", ANSWER, |fx| {
            mutation("startReferral", fx.referral(&["acceptReferral"]))
        }),
        row("Mutation.completeReferral", ANSWER, |fx| {
            mutation(
                "completeReferral",
                with(
                    fx.referral(&["acceptReferral", "startReferral"]),
                    json!({ "outcome": "NEED_MET" }),
                ),
            )
        }),
        row("Mutation.failReferral", ANSWER, |fx| {
            mutation(
                "failReferral",
                with(
                    fx.referral(&["acceptReferral"]),
                    json!({ "reason": "NO_SHOW" }),
                ),
            )
        }),
        row("Mutation.cancelReferral", CASEWORK, |fx| {
            mutation(
                "cancelReferral",
                with(
                    fx.referral(&[]),
                    json!({ "by": "RECIPIENT", "reason": "RECIPIENT_CHANGED_MIND" }),
                ),
            )
        }),
        row("Mutation.withdrawReferralConsent", CASEWORK, |fx| {
            mutation("withdrawReferralConsent", fx.referral_with_contact())
        }),
        row("Mutation.issueAnswerLink", CASEWORK, |fx| {
            mutation(
                "issueAnswerLink",
                with(fx.referral(&[]), json!({ "lang": "FR", "validDays": 3 })),
            )
        }),
        row("Mutation.addReferralNote", ANSWER, |fx| {
            mutation(
                "addReferralNote",
                with(fx.referral(&[]), json!({ "text": "Matrix note" })),
            )
        }),
        row("Mutation.closeNeed", CASEWORK, |fx| {
            mutation(
                "closeNeed",
                json!({ "needCaseId": fx.identified(), "reason": "NO_SERVICE_AVAILABLE" }),
            )
        }),
        row("Mutation.markEnteredInError", CASEWORK, |fx| {
            mutation(
                "markEnteredInError",
                json!({ "needCaseId": fx.identified(), "reason": "DUPLICATE" }),
            )
        }),
        // --- Administration --------------------------------------------------------
        row("Mutation.registerService", ADMIN, |_| {
            mutation(
                "registerService",
                json!({ "profile": service_profile("Another service") }),
            )
        }),
        row("Mutation.updateService", ADMIN, |fx| {
            mutation(
                "updateService",
                json!({ "serviceId": fx.service(), "profile": service_profile("Renamed service") }),
            )
        }),
        row("Mutation.changeServiceCapacity", ADMIN, |fx| {
            mutation(
                "changeServiceCapacity",
                json!({ "serviceId": fx.service(), "capacity": { "status": "NO_CAPACITY" } }),
            )
        }),
        row("Mutation.retireService", ADMIN, |fx| {
            mutation("retireService", json!({ "serviceId": fx.service() }))
        }),
        row("Mutation.eraseCareRecipient", ADMIN, |fx| {
            mutation(
                "eraseCareRecipient",
                json!({ "recipientId": fx.recipient().0 }),
            )
        }),
        row("Mutation.issueApiKey", ADMIN, |_| {
            mutation("issueApiKey", json!({ "name": format!("portal {}", v7()) }))
        }),
        row("Mutation.revokeApiKey", ADMIN, |fx| {
            mutation("revokeApiKey", json!({ "apiKeyId": issue_key(fx.s).0 }))
        }),
        row("Mutation.createWebhookSubscription", ADMIN, |_| {
            mutation("createWebhookSubscription", webhook_input())
        }),
        row("Mutation.deleteWebhookSubscription", ADMIN, |fx| {
            let v = fx.s.admin_mutate(
                "createWebhookSubscription",
                webhook_input(),
                "webhookSubscription { id }",
            );
            assert_eq!(v["userErrors"], json!([]), "{v}");
            mutation(
                "deleteWebhookSubscription",
                json!({ "subscriptionId": v["webhookSubscription"]["id"] }),
            )
        }),
    ]
}

/// A subscription whose filter no referral of the matrix passes (a site nobody
/// works at), so nothing is ever sent to its endpoint.
fn webhook_input() -> Value {
    json!({
        "name": format!("matrix {}", v7()),
        "endpoint": "http://127.0.0.1:9/hook",
        "secret": "matrix-secret-0123456789abcdef-0123456789",
        "requesterSites": ["zz-nowhere"],
    })
}
