//! The equity dashboard's representation (issue 18): the page and its charts,
//! server-rendered (HTML and SVG, no script), in the caller's language, from
//! the tables the equity use cases release — so the page shows exactly what the
//! API would, with the same disclosure control. The HTTP edge
//! (`http::dashboard`) signs in, keeps the session and calls the use cases.
//!
//! * [`page`] — the view a URL asks for, the sign-in page, the page.
//! * [`charts`] — rates with intervals, ratios with the parity band,
//!   Kaplan–Meier curves with numbers at risk, the monthly trend, the heat map.
//! * [`measures`] — the WHO HEAT summary measures, defined and linked.
//! * [`svg`] — what every chart is made of; [`strings`] — the four languages.

pub mod charts;
pub mod measures;
pub mod page;
pub mod strings;
pub mod svg;
