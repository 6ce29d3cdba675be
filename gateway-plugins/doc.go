// Package gatewayplugins holds MGX's plugins for apisix-go-plugin-runner and the runner
// itself (`mgx plugin-runner`). The decisions are in package approuter, which the embedded
// gateway uses too.
package gatewayplugins
