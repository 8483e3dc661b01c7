module github.com/dygen/dygen/examples

go 1.26.0

tool github.com/dygen/dygen/cmd/dygen

require github.com/dygen/dygen v0.0.0

require (
	github.com/dave/jennifer v1.7.1 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)

replace github.com/dygen/dygen => ../
