//! GeoJSON service areas → the regions they cover.
//!
//! The matcher places a recipient by postal code → region (`domain::region`),
//! so an area drawn as a polygon is read as the regions whose centre lies inside
//! it, from the region table shipped in `infra/data/region_centroids.csv`
//! (approximate centres, longitude/latitude in WGS 84; Belgian and Dutch
//! provinces, German postal zones, Luxembourg). A polygon that contains no centre
//! covers no region CareLedger can match, and is reported.

use careledger_domain::values::Region;
use serde_json::Value;

const TABLE: &str = include_str!("../../data/region_centroids.csv");

/// (region, longitude, latitude) of every region in the table.
pub(crate) fn centroids() -> Vec<(Region, f64, f64)> {
    TABLE
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut c = l.split(',');
            let region = Region::parse(c.next()?).ok()?;
            let lon = c.next()?.parse().ok()?;
            let lat = c.next()?.parse().ok()?;
            Some((region, lon, lat))
        })
        .collect()
}

type Ring = Vec<(f64, f64)>;
/// A polygon: its outer ring and its holes.
type Polygon = Vec<Ring>;

/// The regions whose centre lies inside `geojson` (a Polygon or MultiPolygon,
/// bare or as a Feature or FeatureCollection; given as JSON text or a value).
///
/// # Errors
/// Why the value is not a polygon this reader understands.
pub(crate) fn regions_in(geojson: &Value) -> Result<Vec<Region>, String> {
    let value = match geojson {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| format!("the geojson extent is not valid JSON: {e}"))?,
        v => v.clone(),
    };
    let mut polygons = Vec::new();
    collect(&value, &mut polygons, 0)?;
    if polygons.is_empty() {
        return Err("the geojson extent holds no polygon".into());
    }
    Ok(centroids()
        .into_iter()
        .filter(|(_, lon, lat)| polygons.iter().any(|p| inside(p, *lon, *lat)))
        .map(|(r, _, _)| r)
        .collect())
}

fn collect(v: &Value, out: &mut Vec<Polygon>, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("the geojson extent nests too deep".into());
    }
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "FeatureCollection" => {
            for f in v
                .get("features")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                collect(f, out, depth + 1)?;
            }
        }
        "Feature" => collect(v.get("geometry").unwrap_or(&Value::Null), out, depth + 1)?,
        "GeometryCollection" => {
            for g in v
                .get("geometries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                collect(g, out, depth + 1)?;
            }
        }
        "Polygon" => out.push(polygon(v.get("coordinates"))?),
        "MultiPolygon" => {
            let list = v
                .get("coordinates")
                .and_then(Value::as_array)
                .ok_or("a MultiPolygon without coordinates")?;
            for p in list {
                out.push(polygon(Some(p))?);
            }
        }
        other => {
            return Err(format!(
                "geojson type {other:?} is not an area (Polygon, MultiPolygon, Feature, FeatureCollection)"
            ));
        }
    }
    Ok(())
}

fn polygon(coords: Option<&Value>) -> Result<Polygon, String> {
    let rings = coords
        .and_then(Value::as_array)
        .ok_or("a Polygon without coordinates")?;
    rings
        .iter()
        .map(|ring| {
            let points = ring.as_array().ok_or("a ring is not a list of points")?;
            let ring: Ring = points
                .iter()
                .map(|p| {
                    let lon = p.get(0).and_then(Value::as_f64);
                    let lat = p.get(1).and_then(Value::as_f64);
                    match (lon, lat) {
                        (Some(lon), Some(lat)) => Ok((lon, lat)),
                        _ => Err("a point is not [longitude, latitude]".to_string()),
                    }
                })
                .collect::<Result<_, _>>()?;
            if ring.len() < 4 {
                return Err("a ring needs at least four points".to_string());
            }
            Ok(ring)
        })
        .collect()
}

/// Inside the outer ring and in no hole (even-odd ray casting).
fn inside(p: &Polygon, x: f64, y: f64) -> bool {
    let Some((outer, holes)) = p.split_first() else {
        return false;
    };
    in_ring(outer, x, y) && !holes.iter().any(|h| in_ring(h, x, y))
}

fn in_ring(ring: &Ring, x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(v: Value) -> Vec<String> {
        regions_in(&v)
            .unwrap()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect()
    }

    #[test]
    fn every_region_of_the_table_parses() {
        assert_eq!(centroids().len(), TABLE.lines().count() - 1);
    }

    #[test]
    fn a_box_round_leuven_covers_flemish_brabant_only() {
        let square = json!({"type": "Polygon", "coordinates": [[[4.5, 50.8], [4.8, 50.8], [4.8, 51.0], [4.5, 51.0], [4.5, 50.8]]]});
        assert_eq!(names(square.clone()), ["BE-VBR"]);
        // As text, as a Feature, and with a hole round the centre: none.
        assert_eq!(names(Value::String(square.to_string())), ["BE-VBR"]);
        assert_eq!(
            names(json!({"type": "Feature", "geometry": square})),
            ["BE-VBR"]
        );
        let holed = json!({"type": "Polygon", "coordinates": [
            [[4.5, 50.8], [4.8, 50.8], [4.8, 51.0], [4.5, 51.0], [4.5, 50.8]],
            [[4.6, 50.85], [4.65, 50.85], [4.65, 50.95], [4.6, 50.95], [4.6, 50.85]]]});
        assert!(names(holed).is_empty());
    }

    #[test]
    fn a_multipolygon_covers_each_part() {
        let mp = json!({"type": "MultiPolygon", "coordinates": [
            [[[5.6, 50.4], [5.8, 50.4], [5.8, 50.6], [5.6, 50.6], [5.6, 50.4]]],
            [[[5.8, 51.1], [6.0, 51.1], [6.0, 51.3], [5.8, 51.3], [5.8, 51.1]]]]});
        assert_eq!(names(mp), ["BE-WLG", "NL-LI"]);
    }

    #[test]
    fn what_is_not_an_area_is_refused_with_a_reason() {
        for (v, why) in [
            (
                json!({"type": "Point", "coordinates": [4.7, 50.9]}),
                "not an area",
            ),
            (json!("{not json"), "not valid JSON"),
            (
                json!({"type": "Polygon", "coordinates": [[[4.5, 50.8], [4.8, 50.8]]]}),
                "four points",
            ),
            (
                json!({"type": "FeatureCollection", "features": []}),
                "no polygon",
            ),
        ] {
            let e = regions_in(&v).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
