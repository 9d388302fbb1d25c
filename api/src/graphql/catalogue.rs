//! The needs catalogue: the `Need` type every feature shows, and the `catalogue`
//! query.

use super::support::scalars::{Lang, NeedDomain};
use super::support::{allow, app, lang_of};
use async_graphql::{Context, Object, Result, SimpleObject};
use careledger_app::policy::Action;
use careledger_domain::catalogue::NeedDefinition;
use careledger_domain::values::{self as v, Lang as DomainLang};

/// A need of the catalogue.
#[derive(Clone)]
pub struct Need {
    code: v::NeedCode,
    domain: NeedDomain,
    def: Option<NeedDefinition>,
    /// The language the enclosing query asked for.
    lang: Option<DomainLang>,
}

impl Need {
    /// A need no longer in the catalogue (recorded under an earlier version):
    /// its code and domain only.
    pub fn retired(code: &v::NeedCode) -> Self {
        Need {
            code: code.clone(),
            domain: code.domain().into(),
            def: None,
            lang: None,
        }
    }

    pub fn from_definition(def: &NeedDefinition) -> Self {
        Need {
            code: def.code().clone(),
            domain: def.domain().into(),
            def: Some(def.clone()),
            lang: None,
        }
    }

    pub fn in_lang(mut self, lang: DomainLang) -> Self {
        self.lang = Some(lang);
        self
    }
}

impl Need {
    fn pick(&self, ctx: &Context<'_>, lang: Option<Lang>) -> DomainLang {
        lang.map(Into::into)
            .or(self.lang)
            .unwrap_or_else(|| lang_of(ctx))
    }
}

#[Object]
impl Need {
    /// Stable code, e.g. `psy.fear-of-recurrence`.
    async fn code(&self) -> &str {
        self.code.as_str()
    }
    async fn domain(&self) -> NeedDomain {
        self.domain
    }
    /// The label in `lang`, else the language the enclosing query asked for, else
    /// the request's (`Accept-Language`), else English.
    async fn label(&self, ctx: &Context<'_>, lang: Option<Lang>) -> &str {
        let l = self.pick(ctx, lang);
        self.def.as_ref().map_or(self.code.as_str(), |d| d.label(l))
    }
    async fn description(&self, ctx: &Context<'_>, lang: Option<Lang>) -> Option<&str> {
        let l = self.pick(ctx, lang);
        self.def.as_ref().map(|d| d.description(l))
    }
}

#[derive(SimpleObject)]
pub struct Catalogue {
    pub version: String,
    pub needs: Vec<Need>,
}

#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// The needs catalogue. Labels are in `lang`, else the request's
    /// `Accept-Language`, else English.
    async fn catalogue(
        &self,
        ctx: &Context<'_>,
        domain: Option<NeedDomain>,
        lang: Option<Lang>,
    ) -> Result<Catalogue> {
        allow(ctx, Action::ReadShared)?;
        let app = app(ctx);
        let lang = lang.map(Into::into).unwrap_or_else(|| lang_of(ctx));
        let domain = domain.map(careledger_domain::values::NeedDomain::from);
        Ok(Catalogue {
            version: app.catalogue.version().to_string(),
            needs: app
                .catalogue
                .needs()
                .iter()
                .filter(|n| domain.is_none_or(|d| n.domain() == d))
                .map(|n| Need::from_definition(n).in_lang(lang))
                .collect(),
        })
    }
}
