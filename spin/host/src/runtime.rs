//! The wasmtime side: one engine, one linker with everything a spin-sdk 7 component imports
//! (wasi:http@0.3 types/client, wasi 0.3 cli/clocks/random/filesystem/sockets, the wasi 0.2
//! interfaces Rust's std imports, spin:variables@3), and one precompiled `ServicePre` per component.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::manifest::Manifest;
use crate::outbound::{AllowedHosts, OutboundHooks};
use crate::spin_variables::{self, ComponentVariables};
use crate::variables::AppVariables;

/// Everything one request's store owns; dropped with the instance when the request ends.
pub struct GuestState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    variables: Arc<ComponentVariables>,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// A component ready to serve: compiled and linked once, instantiated per request.
pub struct LoadedComponent {
    pub id: Arc<str>,
    pre: ServicePre<GuestState>,
    environment: Vec<(String, String)>,
    allowed: Arc<AllowedHosts>,
    variables: Arc<ComponentVariables>,
}

impl LoadedComponent {
    /// A fresh store for one request: no state leaks between requests.
    pub fn new_store(&self) -> Store<GuestState> {
        let wasi = WasiCtxBuilder::new().inherit_stdout().inherit_stderr().envs(&self.environment).build();
        let state = GuestState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks { component: Arc::clone(&self.id), allowed: Arc::clone(&self.allowed) },
            variables: Arc::clone(&self.variables),
        };
        Store::new(self.pre.engine(), state)
    }

    pub fn pre(&self) -> &ServicePre<GuestState> {
        &self.pre
    }
}

/// `compile_cache`: a directory for wasmtime's compilation cache (keyed by the component's bytes
/// and the engine's settings); compiling every component costs seconds of CPU at each start.
pub fn engine(compile_cache: Option<&Path>) -> Result<Engine> {
    let mut config = Config::new();
    // wasi:http@0.3 is built on component-model async (futures, streams, async funcs).
    config.wasm_component_model_async(true);
    if let Some(directory) = compile_cache {
        let mut cache = CacheConfig::new();
        cache.with_directory(directory);
        config.cache(Some(
            Cache::new(cache).map_err(|error| anyhow!("compile cache {}: {error:#}", directory.display()))?,
        ));
    }
    Engine::new(&config).map_err(|error| anyhow!("{error:#}"))
}

fn linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    // Rust std on wasm32-wasip2 imports wasi:cli/io/clocks/... 0.2 even in a p3 component.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_variables::add_to_linker(&mut linker, |state: &mut GuestState| &state.variables)?;
    Ok(linker)
}

/// Compiles and links every component of the manifest that a route points at.
pub fn load_components(
    engine: &Engine,
    manifest: &Manifest,
    variables: &AppVariables,
) -> Result<BTreeMap<String, Arc<LoadedComponent>>> {
    let linker = linker(engine).map_err(|error| anyhow!("{error:#}"))?;
    let mut loaded = BTreeMap::new();
    for (id, component) in &manifest.components {
        if !manifest.routes.iter().any(|route| &route.component == id) {
            continue;
        }
        let allowed = AllowedHosts::parse(&component.allowed_outbound_hosts, variables)
            .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
        let values = variables.for_component(component).with_context(|| format!("component {id:?}: variables"))?;
        let pre = compile(engine, &linker, &component.source)
            .with_context(|| format!("component {id:?} ({})", component.source.display()))?;
        let id: Arc<str> = Arc::from(id.as_str());
        let variables = ComponentVariables { component: Arc::clone(&id), values };
        loaded.insert(
            id.to_string(),
            Arc::new(LoadedComponent {
                id,
                pre,
                environment: component.environment.clone(),
                allowed: Arc::new(allowed),
                variables: Arc::new(variables),
            }),
        );
    }
    Ok(loaded)
}

fn compile(engine: &Engine, linker: &Linker<GuestState>, source: &Path) -> Result<ServicePre<GuestState>> {
    let component = Component::from_file(engine, source).map_err(|error| {
        anyhow!("{error:#}\nhint: build it first (spin build, or cargo build --target wasm32-wasip2 --release)")
    })?;
    let instance_pre = linker.instantiate_pre(&component).map_err(|error| anyhow!("cannot link: {error:#}"))?;
    ServicePre::new(instance_pre)
        .map_err(|error| anyhow!("not a wasi:http@0.3 service (export wasi:http/handler@0.3.0): {error:#}"))
}
