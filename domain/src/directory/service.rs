//! The service aggregate: the directory's commands and events, the state folded from
//! them, the refusals, and decide/apply (an update that changes nothing decides no event).

use super::error::DirectoryError;
use super::profile::{Capacity, ServiceProfile};
use crate::aggregate::{Aggregate, Command};
use crate::ids::ServiceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryAction {
    Register {
        service: ServiceId,
        profile: ServiceProfile,
        capacity: Capacity,
    },
    /// Replaces the profile; deciding it on an unchanged profile records nothing.
    Update {
        profile: ServiceProfile,
    },
    ChangeCapacity {
        capacity: Capacity,
    },
    Retire,
}

impl DirectoryAction {
    pub fn name(&self) -> &'static str {
        match self {
            DirectoryAction::Register { .. } => "registerService",
            DirectoryAction::Update { .. } => "updateService",
            DirectoryAction::ChangeCapacity { .. } => "changeServiceCapacity",
            DirectoryAction::Retire => "retireService",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRegistered {
    pub service: ServiceId,
    pub profile: Box<ServiceProfile>,
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUpdated {
    pub profile: Box<ServiceProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCapacityChanged {
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRetired {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceEvent {
    ServiceRegistered(ServiceRegistered),
    ServiceUpdated(ServiceUpdated),
    ServiceCapacityChanged(ServiceCapacityChanged),
    ServiceRetired(ServiceRetired),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceData {
    pub id: ServiceId,
    /// Shared, so the directory's read model can keep the profiles a service had
    /// (what the matcher saw at a past position) without a copy of the current one.
    pub profile: Arc<ServiceProfile>,
    pub capacity: Capacity,
    pub retired: bool,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    data: Option<ServiceData>,
}

impl Service {
    pub fn data(&self) -> Option<&ServiceData> {
        self.data.as_ref()
    }
    pub fn is_active(&self) -> bool {
        self.data.as_ref().is_some_and(|d| !d.retired)
    }
}

impl Aggregate for Service {
    type Action = DirectoryAction;
    type Event = ServiceEvent;
    type Error = DirectoryError;

    fn decide(&self, cmd: &Command<DirectoryAction>) -> Result<Vec<ServiceEvent>, DirectoryError> {
        use DirectoryAction as A;
        use ServiceEvent as E;
        cmd.check_time()?;
        if let A::Register {
            service,
            profile,
            capacity,
        } = &cmd.action
        {
            if self.data.is_some() {
                return Err(DirectoryError::AlreadyRegistered { service: *service });
            }
            let profile = profile.clone().normalised();
            profile.validate()?;
            return Ok(vec![E::ServiceRegistered(ServiceRegistered {
                service: *service,
                profile: Box::new(profile),
                capacity: *capacity,
            })]);
        }
        let d = self.data.as_ref().ok_or(DirectoryError::NotRegistered)?;
        if d.retired {
            return Err(DirectoryError::Retired);
        }
        match &cmd.action {
            A::Register { .. } => unreachable!("handled above"),
            A::Update { profile } => {
                let profile = profile.clone().normalised();
                profile.validate()?;
                if profile == *d.profile {
                    return Ok(vec![]);
                }
                Ok(vec![E::ServiceUpdated(ServiceUpdated {
                    profile: Box::new(profile),
                })])
            }
            A::ChangeCapacity { capacity } => {
                if *capacity == d.capacity {
                    return Ok(vec![]);
                }
                Ok(vec![E::ServiceCapacityChanged(ServiceCapacityChanged {
                    capacity: *capacity,
                })])
            }
            A::Retire => Ok(vec![E::ServiceRetired(ServiceRetired {})]),
        }
    }

    fn apply(&mut self, event: &ServiceEvent, at: DateTime<Utc>) {
        match event {
            ServiceEvent::ServiceRegistered(e) => {
                self.data = Some(ServiceData {
                    id: e.service,
                    profile: Arc::new((*e.profile).clone()),
                    capacity: e.capacity,
                    retired: false,
                    registered_at: at,
                });
            }
            ServiceEvent::ServiceUpdated(e) => {
                if let Some(d) = self.data.as_mut() {
                    d.profile = Arc::new((*e.profile).clone());
                }
            }
            ServiceEvent::ServiceCapacityChanged(e) => {
                if let Some(d) = self.data.as_mut() {
                    d.capacity = e.capacity;
                }
            }
            ServiceEvent::ServiceRetired(_) => {
                if let Some(d) = self.data.as_mut() {
                    d.retired = true;
                }
            }
        }
    }
}
