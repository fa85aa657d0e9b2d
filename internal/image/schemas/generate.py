# Generates the JSON schemas in this directory from upstream Glance's own code:
# glance/api/v2/schemas.py's Controller, with its image schema merged with
# etc/schema-image.json as Glance's API does, and everything else it imports
# stubbed. Usage: extract openstack/glance (glance/ and etc/) into /tmp/gl, then
#   python3 generate.py internal/image/schemas
# The schemas are upstream's (Apache-2.0, Copyright OpenStack Foundation).
import sys, json, types, importlib, importlib.abc, importlib.machinery
from unittest import mock
sys.path.insert(0, '/tmp/gl')
REAL = {'glance', 'glance.schema', 'glance.api', 'glance.api.v2', 'glance.api.v2.images', 'glance.api.v2.image_members',
        'glance.api.v2.tasks', 'glance.api.v2.metadef_namespaces', 'glance.api.v2.metadef_objects',
        'glance.api.v2.metadef_properties', 'glance.api.v2.metadef_resource_types', 'glance.api.v2.metadef_tags',
        'glance.api.v2.schemas', 'glance.common', 'glance.common.exception'}
class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name in REAL or name in sys.modules:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec):
        m = mock.MagicMock(); m.__path__ = []; m.__name__ = spec.name; m.__spec__ = spec
        return m
    def exec_module(self, m): pass
sys.meta_path.insert(0, Finder())
# glance/__init__ and api/__init__ might import things; stub packages
for pkg in ['glance', 'glance.api', 'glance.api.v2', 'glance.common']:
    m = types.ModuleType(pkg); m.__path__ = ['/tmp/gl/' + pkg.replace('.', '/')]; sys.modules[pkg] = m
i18n = types.ModuleType('glance.i18n'); i18n._ = lambda s: s
for n in ['_LE', '_LI', '_LW']: setattr(i18n, n, lambda s: s)
sys.modules['glance.i18n'] = i18n
class NS: pass
CONF = NS(); CONF.image_format = NS()
CONF.image_format.container_formats = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']
CONF.image_format.disk_formats = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']
CONF.register_opts = lambda *a, **k: None
CONF.import_opt = lambda *a, **k: None
CONF.import_group = lambda *a, **k: None
CONF.register_opt = lambda *a, **k: None
cfgmod = mock.MagicMock(); cfgmod.CONF = CONF
oslo = types.ModuleType('oslo_config'); oslo.cfg = cfgmod; oslo.__path__ = []
sys.modules['oslo_config'] = oslo; sys.modules['oslo_config.cfg'] = cfgmod
from glance.api.v2 import schemas
from glance.api.v2 import metadef_namespaces, metadef_objects, metadef_properties, metadef_resource_types, metadef_tags
# the wsme models' mandatory attributes (glance/api/v2/model/metadef_*.py)
metadef_namespaces.Namespace.get_mandatory_attrs = lambda: ['namespace']
metadef_objects.MetadefObject.get_mandatory_attrs = lambda: ['name']
metadef_properties.PropertyType.get_mandatory_attrs = lambda: ['type', 'title']
metadef_resource_types.ResourceTypeAssociation.get_mandatory_attrs = lambda: ['name']
metadef_tags.MetadefTag.get_mandatory_attrs = lambda: ['name']
custom = json.load(open('/tmp/gl/etc/schema-image.json'))
c = schemas.Controller(custom)
out = sys.argv[1]
for name in ['image', 'images', 'member', 'members', 'task', 'tasks', 'metadef_namespace', 'metadef_namespaces',
             'metadef_resource_type', 'metadef_resource_types', 'metadef_property', 'metadef_properties',
             'metadef_object', 'metadef_objects', 'metadef_tag', 'metadef_tags']:
    doc = getattr(c, name)(None)
    with open(out + '/' + name.replace('metadef_', 'metadefs-') + '.json', 'w') as f:
        json.dump(doc, f, indent=4, sort_keys=True)
        f.write('\n')
