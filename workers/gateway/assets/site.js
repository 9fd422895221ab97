// The storefront works without this script; it only makes some things happen in place.
"use strict";
