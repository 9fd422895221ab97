//! `spin:variables/variables@3.0.0`, the only Spin host interface spin-sdk 7's `variables::get`
//! imports. Values are the component's `[component.X.variables]`, rendered at startup.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::{Accessor, HasData, Linker};

use crate::variables::validate_name;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "local-spin:host/spin-imports",
    });
}

use bindings::spin::variables::variables::{self as v3, Error};

/// One component's variables: what a guest may `get`, and under which component id.
#[derive(Debug, Clone)]
pub struct ComponentVariables {
    pub component: Arc<str>,
    pub values: HashMap<String, String>,
}

impl ComponentVariables {
    /// Mirrors Spin's errors: a malformed name is `invalid-name`, an undeclared one `undefined`.
    pub fn get(&self, name: &str) -> Result<String, Error> {
        validate_name(name).map_err(|error| Error::InvalidName(error.to_string()))?;
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Undefined(format!("no variable for {:?}.{name:?}", self.component)))
    }
}

/// Marker tying the bindings to the store's `Arc<ComponentVariables>`.
pub struct SpinVariables;

impl HasData for SpinVariables {
    type Data<'a> = &'a ComponentVariables;
}

impl<T> v3::HostWithStore<T> for SpinVariables {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, Error> {
        accessor.with(|mut access| access.get().get(&name))
    }
}

impl v3::Host for &ComponentVariables {}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    getter: fn(&mut T) -> &ComponentVariables,
) -> wasmtime::Result<()> {
    v3::add_to_linker::<T, SpinVariables>(linker, getter)
}
