// The app's `webtorrent` dependency, swapped for wasmtorrent's Node package (package.json's
// overrides): what an app does to switch is change this one import.
export { default } from '../../../dist/wasmtorrent.node.js'
