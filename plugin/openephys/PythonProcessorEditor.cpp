#include "PythonProcessorEditor.h"

#include "PythonProcessor.h"

#include "oe_pyproc_editor_text.h"

namespace {
constexpr int kEditorWidth = 360;
constexpr int kLineHeight = 13;
constexpr int kMenuTextWidth = 560;       // pixels of an entry in the Home menu
constexpr int kOtherFolderItem = 100000;  // above any Home's item id
const FontOptions kStatusFont(12.0f);
}  // namespace

PythonProcessorEditor::PythonProcessorEditor(GenericProcessor* parentNode)
    : GenericEditor(parentNode), processor(static_cast<PythonProcessor*>(parentNode)) {
    desiredWidth = kEditorWidth;

    scriptButton = std::make_unique<UtilityButton>("Script...");
    reloadButton = std::make_unique<UtilityButton>("Reload");
    homeButton = std::make_unique<UtilityButton>("Home...");
    errorButton = std::make_unique<UtilityButton>("Error...");
    for (auto* button : {scriptButton.get(), reloadButton.get(), homeButton.get(), errorButton.get()}) {
        button->addListener(this);
        addAndMakeVisible(button);
    }
    scriptButton->setTooltip("Choose the Python file that defines class PyProcessor");
    reloadButton->setTooltip("Re-import the script; recovers a faulted script, also during acquisition");
    homeButton->setTooltip(
        "Choose the Python environment: the ones found on this machine (judged as the plugin "
        "would use them), or any folder (needs a GUI restart once Python runs)");
    errorButton->setTooltip("Show the last error with its full traceback");

    addComboBoxParameterEditor(Parameter::PROCESSOR_SCOPE, "error_policy", 200, 24);

    for (auto& line : statusLines) {
        line = std::make_unique<Label>("status", "");
        line->setJustificationType(Justification::centredLeft);
        line->setFont(kStatusFont);
        line->setMinimumHorizontalScale(1.0f);  // never squeezed: editor_text shortens at word boundaries
        line->setBorderSize(BorderSize<int>(0, 2, 0, 2));
        addAndMakeVisible(line.get());
    }

    startTimer(500);
}

PythonProcessorEditor::~PythonProcessorEditor() {
    stopTimer();
}

void PythonProcessorEditor::resized() {
    GenericEditor::resized();
    scriptButton->setBounds(10, 30, 62, 20);
    reloadButton->setBounds(76, 30, 52, 20);
    homeButton->setBounds(132, 30, 56, 20);
    errorButton->setBounds(10, 106, 52, 16);
    shownStatus.clear();  // the lines are fitted to their width again on the next poll
    for (size_t i = 0; i < statusLines.size(); ++i) {
        statusLines[i]->setBounds(8, 52 + static_cast<int>(i) * kLineHeight, kEditorWidth - 16, kLineHeight);
    }
}

void PythonProcessorEditor::buttonClicked(Button* button) {
    if (button == scriptButton.get()) {
        chooseScript();
    } else if (button == reloadButton.get()) {
        CoreServices::sendStatusMessage("Python Processor: " + processor->reloadScript());
        timerCallback();
    } else if (button == homeButton.get()) {
        if (!processor->findingHomes()) {
            processor->findHomes();
            CoreServices::sendStatusMessage("Python Processor: looking for Python Homes on this machine...");
        }
    } else if (button == errorButton.get()) {
        showFullError();
    }
}

void PythonProcessorEditor::chooseScript() {
    chooser = std::make_unique<FileChooser>("Choose a Python processor script", File(), "*.py");
    chooserOpen = true;
    chooser->launchAsync(FileBrowserComponent::openMode | FileBrowserComponent::canSelectFiles,
                         [this](const FileChooser& fileChooser) {
                             chooserOpen = false;
                             const File result = fileChooser.getResult();
                             if (result.existsAsFile()) {
                                 processor->chooseScript(result);
                             }
                         });
}

void PythonProcessorEditor::chooseHome() {
    chooser = std::make_unique<FileChooser>("Choose the Python Home (environment folder)");
    chooserOpen = true;
    chooser->launchAsync(FileBrowserComponent::openMode | FileBrowserComponent::canSelectDirectories,
                         [this](const FileChooser& fileChooser) {
                             chooserOpen = false;
                             const File result = fileChooser.getResult();
                             if (result.isDirectory()) {
                                 processor->chooseHome(result);
                             }
                         });
}

void PythonProcessorEditor::showHomeMenu() {
    const Font font = getLookAndFeel().getPopupMenuFont();
    const auto width = [&font](const std::string& text) {
        return static_cast<double>(GlyphArrangement::getStringWidth(font, String::fromUTF8(text.c_str())));
    };
    const auto entries = oe_pyproc::adapter::home_menu_entries(processor->foundHomes(), kMenuTextWidth, width);
    PopupMenu menu;
    PopupMenu unusable;
    menuHomes.clear();
    menu.addSectionHeader("Python Homes on this machine");
    for (const auto& entry : entries) {
        if (entry.usable) {
            menuHomes.push_back(entry.path);
            menu.addItem(static_cast<int>(menuHomes.size()), String::fromUTF8(entry.text.c_str()));
        } else {
            unusable.addItem(-1, String::fromUTF8(entry.text.c_str()), false);
        }
    }
    if (menuHomes.empty()) {
        menu.addItem(-1, "no usable Home found (a Home needs numpy and a supported Python)", false);
    }
    if (unusable.getNumItems() > 0) {
        menu.addSubMenu("Not usable (" + String(unusable.getNumItems()) + ")", unusable);
    }
    menu.addSeparator();
    menu.addItem(kOtherFolderItem, "Other folder...");
    chooserOpen = true;
    Component::SafePointer<PythonProcessorEditor> editor(this);
    menu.showMenuAsync(PopupMenu::Options().withTargetComponent(homeButton.get()), [editor](int result) {
        if (editor == nullptr) {
            return;  // the editor went away while the menu was open
        }
        editor->chooserOpen = false;
        if (result == kOtherFolderItem) {
            editor->chooseHome();
        } else if (result >= 1 && result <= static_cast<int>(editor->menuHomes.size())) {
            editor->processor->chooseHome(File(String::fromUTF8(editor->menuHomes[result - 1].c_str())));
        }
    });
}

void PythonProcessorEditor::showFullError() {
    const String error = processor->getFullError();
    auto text = std::make_unique<TextEditor>();
    text->setMultiLine(true);
    text->setReadOnly(true);
    text->setFont(FontOptions(Font::getDefaultMonospacedFontName(), 12.0f, Font::plain));
    text->setText(error.isEmpty() ? "No error." : error);
    text->setSize(620, 280);
    CallOutBox::launchAsynchronously(std::move(text), errorButton->getScreenBounds(), nullptr);
}

void PythonProcessorEditor::timerCallback() {
    // The Home chooser is offered once per failed resolution, and never when headless (no editor then);
    // not on top of a chooser already open (a Script chooser used before does not prevent it).
    if (processor->takeChooserRequest() && !chooserOpen) {
        showHomeMenu();
    }
    const oe_pyproc::adapter::StatusInfo status = processor->getStatus();
    std::string key;  // the full lines: the text is only re-fitted when they change
    for (const auto& line : oe_pyproc::adapter::status_lines(status)) {
        key += line + "\n";
    }
    if (key == shownStatus) {
        return;
    }
    shownStatus = key;
    const Font font(kStatusFont);
    const auto width = [&font](const std::string& text) {
        return static_cast<double>(GlyphArrangement::getStringWidth(font, String::fromUTF8(text.c_str())));
    };
    const double room = statusLines[0]->getWidth() - 6.0;  // inside the label's border, and a little slack
    const oe_pyproc::adapter::EditorText text = oe_pyproc::adapter::editor_text(status, room, width);
    const std::array<const oe_pyproc::adapter::EditorLine*, 4> lines = {&text.home, &text.script, &text.error,
                                                                        &text.block};
    for (size_t i = 0; i < lines.size(); ++i) {
        statusLines[i]->setText(String::fromUTF8(lines[i]->text.c_str()), dontSendNotification);
        statusLines[i]->setTooltip(String::fromUTF8(lines[i]->tooltip.c_str()));
    }
    errorButton->setEnabledState(text.has_error);
}
