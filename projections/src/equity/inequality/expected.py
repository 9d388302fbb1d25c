"""Expected values for the unit tests of projections/src/equity/inequality.rs.

Independent of the Rust code: follows the WHO `healthequal` R package (1.0.1)
formulas step by step with numpy — ridits from cumulative population (cumw,
cumw1), SII/RII from a weighted linear regression (healthequal `linear = TRUE`,
solved here with numpy.linalg.lstsq on sqrt-weighted rows), ACI and RCI from
healthequal's convenient regression (lhs ~ 0 + rhs + intercept, intercept =
sqrt(pop)), the unordered measures as written in bgv.R, mdbw.R, mdbu.R,
mdmw.R, mdmu.R, ti.R and mld.R (TI and MLD without the × 1000).

Run: python3 expected.py
"""
import numpy as np


def ordered(est, pop):
    est, pop = np.asarray(est, float), np.asarray(pop, float)
    sumw = pop.sum()
    cumw = np.cumsum(pop)
    cumw1 = np.concatenate([[0.0], cumw[:-1]])
    rank = (cumw1 + 0.5 * (cumw - cumw1)) / sumw
    # Weighted least squares est ~ rank, weights pop: scale rows by sqrt(pop).
    sw = np.sqrt(pop)
    X = np.column_stack([sw, sw * rank])
    (a, b), *_ = np.linalg.lstsq(X, sw * est, rcond=None)
    sii = (a + b) - a
    rii = (a + b) / a
    # healthequal aci.R / rci.R: regression of a transformed indicator on rank.
    sigma1 = np.sum((pop / sumw) * (rank - 0.5) ** 2)
    meanlhs1 = np.sum(pop * est) / sumw
    lhs = 2 * sigma1 * (est / meanlhs1) * sw
    rhs = rank * sw
    X2 = np.column_stack([rhs, sw])
    (rci, _), *_ = np.linalg.lstsq(X2, lhs, rcond=None)
    (aci, _), *_ = np.linalg.lstsq(X2, lhs * meanlhs1, rcond=None)
    return dict(rank=rank, sii=sii, rii=rii, at0=a, at1=a + b, aci=aci, rci=rci)


def unordered(est, pop, favourable):
    est, pop = np.asarray(est, float), np.asarray(pop, float)
    popsh = pop / pop.sum()
    wm = np.sum(popsh * est)
    ref = est.max() if favourable else est.min()
    nz = np.where(est == 0, 0.000001, est)
    wmz = np.sum(popsh * nz)
    rj = nz / wmz
    return dict(
        bgv=np.sum(popsh * (est - wm) ** 2),
        mdbw=np.sum(popsh * np.abs(est - ref)),
        mdbu=np.sum(np.abs(est - ref)) / len(est),
        mdmw=np.sum(popsh * np.abs(est - wm)),
        mdmu=np.sum(np.abs(est - wm)) / len(est),
        ti=np.sum(popsh * rj * np.log(rj)),
        mld=np.sum(popsh * (-np.log(nz / wmz))),
    )


def show(title, d):
    print(title)
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            print(f"  {k} = [{', '.join(f'{x:.12f}' for x in v)}]")
        else:
            print(f"  {k} = {v:.12f}")


# Ordered: five quintiles, Q1 (most deprived) first, referral rate rising.
show("ordered A", ordered([0.62, 0.68, 0.71, 0.75, 0.80], [400, 350, 300, 250, 200]))
# Ordered: an adverse rate falling with rank, unequal groups.
show("ordered B", ordered([0.30, 0.22, 0.15, 0.11], [120, 480, 250, 150]))
# Unordered: four languages, favourable outcome.
show("unordered C (favourable)", unordered([0.55, 0.72, 0.64, 0.80], [120, 300, 80, 500], True))
show("unordered C (adverse)", unordered([0.55, 0.72, 0.64, 0.80], [120, 300, 80, 500], False))
# Unordered with a rate of 0 (healthequal's 1e-6 substitution).
show("unordered D", unordered([0.0, 0.3, 0.5], [50, 100, 150], True))
