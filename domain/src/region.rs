//! Postal code → region, for the equity audits' `region` stratifier.
//!
//! * Belgium: the province (ISO 3166-2), exact: Belgian postal codes are allotted by province.
//! * Netherlands: the province (ISO 3166-2) by the first two digits. Dutch postal areas
//!   do not follow provincial borders exactly; a handful of border municipalities land in a
//!   neighbouring province. Good enough for a stratifier, not for a mailing.
//! * Germany: the postal zone (`DE-PLZ-5` for 5xxxx). Zones, not Länder: German postal
//!   regions cross Land borders, and a wrong Land is worse than an honest zone.
//! * France: the département (first two digits). Luxembourg: the country.

use crate::values::{Country, PostalCode, Region};

impl PostalCode {
    /// The region used by equity audits. (Defined here, beside the mapping, so
    /// that `values` does not import `region` back.)
    pub fn region(&self) -> Region {
        region_of(self)
    }
}

pub(crate) fn region_of(p: &PostalCode) -> Region {
    let code = p.code();
    let num = |n: usize| code[..n].parse::<u32>().unwrap_or(0);
    let r = match p.country() {
        Country::BE => belgium(num(4)).to_string(),
        Country::NL => netherlands(num(2)).to_string(),
        Country::DE => format!("DE-PLZ-{}", &code[..1]),
        Country::FR => format!("FR-{}", &code[..2]),
        Country::LU => "LU".to_string(),
    };
    Region(r.into())
}

fn belgium(n: u32) -> &'static str {
    match n {
        1000..=1299 => "BE-BRU",
        1300..=1499 => "BE-WBR",
        1500..=1999 | 3000..=3499 => "BE-VBR",
        2000..=2999 => "BE-VAN",
        3500..=3999 => "BE-VLI",
        4000..=4999 => "BE-WLG",
        5000..=5999 => "BE-WNA",
        6000..=6599 | 7000..=7999 => "BE-WHT",
        6600..=6999 => "BE-WLX",
        8000..=8999 => "BE-VWV",
        _ => "BE-VOV", // 9000..=9999; validation guarantees 1000..=9999
    }
}

fn netherlands(n: u32) -> &'static str {
    match n {
        10..=12 | 14..=21 => "NL-NH",
        13 | 82..=83 => "NL-FL",
        22..=33 | 42 => "NL-ZH",
        34..=39 => "NL-UT",
        40..=41 | 65..=73 => "NL-GE",
        43..=45 => "NL-ZE",
        46..=57 => "NL-NB",
        58..=64 => "NL-LI",
        74..=77 | 80..=81 => "NL-OV",
        78..=79 | 93..=94 => "NL-DR",
        84..=92 => "NL-FR",
        _ => "NL-GR", // 95..=99
    }
}

#[cfg(test)]
mod tests {
    use crate::values::{Country, PostalCode};

    fn region(c: Country, code: &str) -> String {
        PostalCode::parse(c, code)
            .unwrap()
            .region()
            .as_str()
            .to_string()
    }

    #[test]
    fn known_cities_land_in_their_region() {
        let cases = [
            (Country::BE, "1000", "BE-BRU"),    // Brussels
            (Country::BE, "3000", "BE-VBR"),    // Leuven
            (Country::BE, "2000", "BE-VAN"),    // Antwerp
            (Country::BE, "3500", "BE-VLI"),    // Hasselt
            (Country::BE, "4000", "BE-WLG"),    // Liège
            (Country::BE, "6700", "BE-WLX"),    // Arlon
            (Country::BE, "7000", "BE-WHT"),    // Mons
            (Country::BE, "8000", "BE-VWV"),    // Bruges
            (Country::BE, "9000", "BE-VOV"),    // Ghent
            (Country::NL, "1012AB", "NL-NH"),   // Amsterdam
            (Country::NL, "3011AA", "NL-ZH"),   // Rotterdam
            (Country::NL, "3511AA", "NL-UT"),   // Utrecht
            (Country::NL, "6211AA", "NL-LI"),   // Maastricht
            (Country::NL, "5611AA", "NL-NB"),   // Eindhoven
            (Country::NL, "9711AA", "NL-GR"),   // Groningen
            (Country::NL, "8911AA", "NL-FR"),   // Leeuwarden
            (Country::DE, "50667", "DE-PLZ-5"), // Cologne
            (Country::FR, "59000", "FR-59"),    // Lille
            (Country::LU, "1111", "LU"),
        ];
        for (c, code, want) in cases {
            assert_eq!(region(c, code), want, "{c} {code}");
        }
    }
}
