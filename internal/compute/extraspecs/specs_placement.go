package extraspecs

// requestGroup is the optional suffix of the granular request syntax
// ("resources1:VCPU", "trait_ssd:..."), as upstream spells it.
const requestGroup = `([a-zA-Z0-9_-]{1,64})?`

// resourceSpecs are upstream's resources.py: an amount of each standard
// resource class, or of any custom one.
func resourceSpecs() []spec {
	var out []spec
	for _, rc := range standardResourceClasses {
		out = append(out, integer("resources{group}:"+rc).with("group", requestGroup))
	}
	return append(out, integer("resources{group}:CUSTOM_{resource}").
		with("group", requestGroup).with("resource", `[A-Z0-9_]+`))
}

// traitSpecs are upstream's traits.py: each standard trait, or any custom one,
// required or forbidden.
func traitSpecs() []spec {
	var out []spec
	for _, t := range standardTraits {
		out = append(out, oneOf("trait{group}:"+t, "required", "forbidden").with("group", requestGroup))
	}
	return append(out, oneOf("trait{group}:CUSTOM_{trait}", "required", "forbidden").
		with("group", requestGroup).with("trait", `[A-Z0-9_]+`))
}
