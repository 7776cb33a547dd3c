"""The 3D View sidebar tab "EmoTalk": generate, retarget, import/export."""
from __future__ import annotations

import bpy

from ..engine.arkit import NUM_BLENDSHAPES
from . import addon_name, directing, prefs, retarget, rig_mapping, scene_writer


class _Sidebar:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "EmoTalk"


class EMOTALK_PT_main(_Sidebar, bpy.types.Panel):
    bl_label = "EmoTalk"
    bl_idname = "EMOTALK_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.emotalk
        job = context.window_manager.emotalk_job
        obj = context.active_object

        layout.prop(settings, "audio_path")
        missing = prefs.missing_torch(context)  # e.g. the released checkpoint set, PyTorch not installed
        if missing:
            col = layout.box().column(align=True)
            col.label(text=missing.problem, icon="ERROR")
            col.label(text=missing.remedy, icon="BLANK1")
            col.operator("preferences.addon_show", text="Open Preferences", icon="PREFERENCES").module = addon_name()
        box = layout.box()
        key = retarget.shape_keys_of(obj, required=False) if obj else None
        if rig_mapping.is_rig(obj):  # a face rig: poses stand in for shape keys
            key = obj
            mapped = len(rig_mapping.mapping_of(obj).channels)
            box.label(text=f"Target: {obj.name} ({mapped}/{NUM_BLENDSHAPES} poses)", icon="ARMATURE_DATA")
            box.operator("emotalk.load_rigify_poses", icon="POSE_HLT")
        elif key is not None:
            mapped = len(retarget.mapping_of(obj).channels)
            box.label(text=f"Target: {obj.name} ({mapped}/{NUM_BLENDSHAPES} channels)",
                          icon="SHAPEKEY_DATA")
        else:
            box.label(text="Target: select a mesh with shape keys", icon="ERROR")
        row = box.row(align=True)
        row.operator("emotalk.create_head", icon="USER")
        row.operator("emotalk.head_identity", text="Identity", icon="COMMUNITY")

        col = layout.column()
        col.prop(settings, "level", slider=True)
        col.prop(settings, "person")
        row = col.row()
        row.prop(settings, "smooth")
        row.prop(settings, "blinks")
        col.prop(settings, "seed")
        col.prop(settings, "start_frame")
        directing.draw(layout, settings)

        if job.running:
            row = layout.row()
            row.progress(factor=job.progress, type="BAR",
                         text=job.message or f"{job.progress:.0%}")
            row.operator("emotalk.cancel", text="", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.4
            row.enabled = key is not None
            op = row.operator("emotalk.generate", icon="PLAY_SOUND")
            op.filepath, op.start_frame = settings.audio_path, settings.start_frame
            directing.copy_props(settings, op)  # every control of the table
        if settings.last_take:
            layout.label(text="Last take:")
            layout.label(text=settings.last_take)


class EMOTALK_UL_channels(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0):
        key = data.id_data.data.shape_keys if data.id_data.type == "MESH" else None
        row = layout.row(align=True)
        row.label(text=item.arkit, icon="CHECKMARK" if item.target else "X")
        if data.id_data.type == "ARMATURE":
            row.prop_search(item, "target", bpy.data, "actions", text="")
        elif key is not None:
            row.prop_search(item, "target", key, "key_blocks", text="")
        else:
            row.prop(item, "target", text="")
        row.prop(item, "gain", text="")


class EMOTALK_PT_retarget(_Sidebar, bpy.types.Panel):
    bl_label = "Retarget"
    bl_parent_id = "EMOTALK_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return rig_mapping.is_rig(obj) or retarget.shape_keys_of(obj, required=False) is not None

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj.type == "MESH":
            layout.prop(obj.emotalk, "rig")  # mixed characters: jaw/eyes as bones
        layout.operator("emotalk.auto_map", icon="LINKED")
        if obj.type == "ARMATURE":
            layout.operator("emotalk.map_pose_library", icon="ASSET_MANAGER")
        if not len(obj.emotalk.channels):
            layout.label(text="Automatic by name (press Auto-map to edit)")
        else:
            layout.template_list("EMOTALK_UL_channels", "", obj.emotalk, "channels",
                                 obj.emotalk, "active_channel", rows=8)
        unmatched = (rig_mapping.mapping_of if rig_mapping.is_rig(obj) else retarget.mapping_of)(obj).unmatched
        if unmatched:
            col = layout.column(align=True)
            col.label(text=f"Unmatched ({len(unmatched)}):", icon="ERROR")
            for name in unmatched:
                col.label(text=name)


class EMOTALK_PT_takes(_Sidebar, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "EMOTALK_PT_main"

    @classmethod
    def poll(cls, context):
        return bool(scene_writer.takes_of(context.active_object))

    def draw(self, context):
        obj = context.active_object
        animated = obj if rig_mapping.is_rig(obj) else obj.data.shape_keys
        playing = animated.animation_data.action if animated.animation_data else None
        col = self.layout.column(align=True)
        for action in reversed(scene_writer.takes_of(context.active_object)):  # newest first
            row = col.row(align=True)
            row.label(text=action.name, icon="PLAY" if action == playing else "ACTION")
            row.operator("emotalk.use_take", text="", icon="CHECKMARK").action = action.name
            row.operator("emotalk.regenerate", text="", icon="FILE_REFRESH").take = action.name
            row.operator("emotalk.delete_take", text="", icon="TRASH").action = action.name
            col.label(text=directing.summary(action), icon="BLANK1")


class EMOTALK_PT_files(_Sidebar, bpy.types.Panel):
    bl_label = "Import / Export"
    bl_parent_id = "EMOTALK_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        col = self.layout.column()
        col.operator("emotalk.import_motion", icon="IMPORT")
        col.operator("emotalk.export_motion", icon="EXPORT")


classes = (EMOTALK_PT_main, EMOTALK_UL_channels, EMOTALK_PT_retarget, EMOTALK_PT_takes, EMOTALK_PT_files)
