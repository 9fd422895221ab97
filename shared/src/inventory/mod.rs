//! Inventory (issue 6, DESIGN §3, §9): the wire contract of the `inventory` Spin component, written
//! once for the component, its callers (the orders saga, the catalog Worker, the gateway's vendor
//! routes) and the edge that receives its events. The stock rules themselves live in SQL
//! (migrations/0009_inventory.sql: all-or-nothing reservations in one statement); this module holds
//! the validated requests, the answers, and how the functions' refusals map to API errors.

pub mod api;
pub mod errors;
pub mod ids;
pub mod stock_list;

pub use api::{
    InitialStock, InitialStockRequest, ReferenceRequest, Reservation, ReservationLine, ReservationStatus, ReserveItem,
    ReserveRequest, SetStockRequest, Shortage, StockLevel, StockLevels, StockRow, StockRows, SweepReport,
    VendorReleaseRequest, VendorStockUpdate,
};
pub use ids::{LocationId, ReservationId, ReservationReference};
pub use stock_list::{StockCursor, StockListQuery};
